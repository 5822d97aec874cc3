"""Copies of the pricing-sheet and price-quote templates in the lead's folder, filled in.

The folder comes from the effect named in ``folder_effect``: the one leadbridge made or found
when adopting, or else the folder whose Drive link staff put in that effect's link column
(any of Drive's link forms, checked with Drive first). With neither, the copies wait, and say
on the item which link to paste; the next cycle after it is pasted makes them.

Copies staff made by hand count too: a template whose link column already holds a file
leadbridge can see is recorded when adopted, and not copied again when the effect runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from leadbridge.domain.errors import MissingInput, PermanentError
from leadbridge.domain.model import ColumnValue, LinkValue
from leadbridge.domain.ports import Drive, DriveFile, DriveTag
from leadbridge.domain.render import (
    column_in_words,
    in_words,
    render,
    single_line,
    template_context,
)
from leadbridge.effects.base import EffectContext, EffectKind, EffectOutcome, EffectParams
from leadbridge.effects.links import visible_drive_file
from leadbridge.effects.services import DRIVE


class TemplateCopy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file_id: str
    name: str
    link_column: str | None = None


class DriveCopiesParams(EffectParams):
    kind: Literal["drive_copies"]
    #: The effect that makes the folder the copies go into.
    folder_effect: str
    #: link name → template; each link name becomes ``{<link>_url}`` for later templates.
    templates: dict[str, TemplateCopy]
    #: Text in the copies → template rendered from the lead, e.g. ``{{lead_name}}: "{name}"``.
    placeholders: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class LeadFolder:
    id: str
    url: str
    #: Found through the link column, not recorded by the folder effect.
    from_column: bool = False


def lead_folder(ctx: EffectContext[Any]) -> LeadFolder:
    """The lead's folder for a kind whose params name its ``folder_effect`` (the copies, the
    contract check): the folder effect's (made, found, or adopted with its
    link), else the one staff linked in its column. Raises ``MissingInput`` when neither is
    there: a person must paste the link, and the copies wait for it."""
    folder_effect = ctx.params.folder_effect
    entry = ctx.ledger.get(folder_effect)
    if entry is not None and entry.ref.get("file_id"):
        return LeadFolder(str(entry.ref["file_id"]), str(entry.ref.get("url", "")))
    column = getattr(ctx.pipeline.effects[folder_effect].params, "link_column", None)
    if not column:
        raise PermanentError(
            "leadbridge",
            f"the lead folder was made before leadbridge looked after this lead, and the "
            f"effect {folder_effect!r} has no link_column to read its link from.",
            fix=f"give {folder_effect!r} a link_column and paste the folder's link there, or "
            f"let leadbridge make the folder: leadbridge sync --once --backfill {folder_effect}",
        )
    pasted = ctx.lead.value(column).strip()
    if not pasted:
        raise MissingInput(
            "leadbridge",
            f"the copies need the lead's Drive folder, and the item has no folder link in "
            f"{column_in_words(column)}.",
            fix=f"paste the lead folder's Drive link into {column_in_words(column)}; leadbridge "
            "makes the copies there in its next cycle",
        )
    drive: Drive = ctx.require_port()
    found = visible_drive_file(drive, pasted, folder=True)
    if found is None:
        raise MissingInput(
            "leadbridge",
            f"the link in {column_in_words(column)} does not open a Drive folder leadbridge "
            "can see (it names no folder, or the folder is not shared with leadbridge's account).",
            fix=f"paste the lead folder's Drive link into {column_in_words(column)} and share the "
            "folder with leadbridge's account; leadbridge looks again in its next cycle",
        )
    return LeadFolder(found.id, found.url, from_column=True)


def _linked_copy(ctx: EffectContext[DriveCopiesParams], key: str) -> DriveFile | None:
    """A copy of this template staff made by hand and linked on the item, if Drive shows it."""
    column = ctx.params.templates[key].link_column
    if not column or not ctx.lead.value(column).strip():
        return None
    drive: Drive = ctx.require_port()
    return visible_drive_file(drive, ctx.lead.value(column), folder=False)


class DriveCopies(EffectKind[DriveCopiesParams]):
    name = "drive_copies"
    params = DriveCopiesParams
    port = DRIVE

    def run(self, ctx: EffectContext[DriveCopiesParams]) -> EffectOutcome:
        params = ctx.params
        folder = lead_folder(ctx)
        drive: Drive = ctx.require_port()
        ref: dict[str, Any] = {}
        links: dict[str, str] = {}
        if folder.from_column:
            # Later effects (the ICSI e-mails) link the folder the copies went into.
            ref["folder_id"] = folder.id
            folder_link = getattr(ctx.pipeline.effects[params.folder_effect].params, "link", None)
            if folder_link and folder.url:
                links[folder_link] = folder.url
        context = template_context(ctx.lead, {**ctx.links, **links}, ctx.today)
        replacements = {key: render(value, context) for key, value in params.placeholders.items()}
        writes: dict[str, ColumnValue] = {}
        made = []
        for key, template in params.templates.items():
            tag = DriveTag(ctx.lead.item_id, f"{ctx.spec.name}:{key}")
            copy = drive.find_tagged(tag, folder.id)
            if copy is None:
                by_hand = _linked_copy(ctx, key)
                if by_hand is not None:
                    ref[key] = {"file_id": by_hand.id, "url": by_hand.url}
                    links[key] = by_hand.url
                    made.append(f"{by_hand.name} (made by hand, linked on the item)")
                    continue
                name = single_line(render(template.name, context), limit=200)
                copy = drive.copy_file(template.file_id, name, folder.id, tag)
            if replacements:
                drive.fill_placeholders(copy, replacements)
            ref[key] = {"file_id": copy.id, "url": copy.url}
            links[key] = copy.url
            made.append(f"{copy.name}: {copy.url}")
            if template.link_column:
                writes[template.link_column] = LinkValue(copy.url, copy.name)
        return EffectOutcome("copied " + "; ".join(made), ref=ref, links=links, writes=writes)

    def adopt(self, ctx: EffectContext[DriveCopiesParams]) -> Mapping[str, Any] | None:
        ref: dict[str, Any] = {}
        links: dict[str, str] = {}
        for key in ctx.params.templates:
            found = _linked_copy(ctx, key)
            if found is not None:
                ref[key] = {"file_id": found.id, "url": found.url}
                links[key] = found.url
        if not ref:
            return None
        return {**ref, "links": links, "found": "on the item"}

    def describe(self, params: DriveCopiesParams, context: Mapping[str, str] | None = None) -> str:
        return "copy the " + " and ".join(map(in_words, params.templates)) + " into the lead folder"

    def implied_needs(self, params: DriveCopiesParams) -> tuple[str, ...]:
        return (params.folder_effect,)

    def with_ids(self, params: DriveCopiesParams, ids: Mapping[str, str]) -> DriveCopiesParams:
        return params.model_copy(update={"folder_effect": ids[params.folder_effect]})

    def templates(self, params: DriveCopiesParams) -> Iterable[tuple[str, str]]:
        return [
            *((f"templates.{k}.name", t.name) for k, t in params.templates.items()),
            *((f"placeholders.{k}", v) for k, v in params.placeholders.items()),
        ]

    def links(self, params: DriveCopiesParams) -> Iterable[str]:
        return list(params.templates)

    def link_columns(self, params: DriveCopiesParams) -> Iterable[str]:
        return [t.link_column for t in params.templates.values() if t.link_column]

    def made(self, ref: Mapping[str, Any]) -> str:
        copies = [
            f"{in_words(key)} {value['url']}"
            for key, value in ref.items()
            if isinstance(value, dict) and "url" in value
        ]
        return "copies: " + "; ".join(copies)


def template_file_ids(params: Iterable[Any]) -> list[str]:
    """The template files of every copies effect, for the Drive check."""
    ids = [
        template.file_id
        for p in params
        if isinstance(p, DriveCopiesParams)
        for template in p.templates.values()
    ]
    return list(dict.fromkeys(ids))
