"""Copies of the pricing-sheet and price-quote templates in the lead's folder, filled in.

The folder comes from the effect named in ``folder_effect``: the one leadbridge made, or, for
a lead adopted with its folder already made by hand, the Drive link staff put in that
effect's link column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from leadbridge.domain.errors import PermanentError
from leadbridge.domain.model import ColumnValue, LinkValue
from leadbridge.domain.ports import Drive, DriveTag
from leadbridge.domain.render import render, single_line
from leadbridge.effects.base import EffectContext, EffectKind, EffectOutcome, EffectParams
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


_FOLDER_URL = re.compile(r"/folders/([A-Za-z0-9_-]+)")


def _folder_id(ctx: EffectContext[DriveCopiesParams]) -> str:
    """The folder made by the folder effect; for an adopted one, the link staff put on the board."""
    folder_effect = ctx.params.folder_effect
    entry = ctx.ledger.get(folder_effect)
    if entry is not None and entry.ref.get("file_id"):
        return str(entry.ref["file_id"])
    column = getattr(ctx.pipeline.effects[folder_effect].params, "link_column", None)
    match = _FOLDER_URL.search(ctx.lead.value(column)) if column else None
    if match:
        return match.group(1)
    where = f"in the column {column!r}" if column else "on the item"
    raise PermanentError(
        "leadbridge",
        f"the lead folder was made before leadbridge looked after this lead, and no Drive "
        f"folder link was found {where}",
        fix=f"put the folder's Drive link {where}, then run: leadbridge retry {ctx.lead.item_id}",
    )


class DriveCopies(EffectKind[DriveCopiesParams]):
    name = "drive_copies"
    params = DriveCopiesParams
    port = DRIVE

    def run(self, ctx: EffectContext[DriveCopiesParams]) -> EffectOutcome:
        params = ctx.params
        drive: Drive = ctx.require_port()
        folder_id = _folder_id(ctx)
        context = ctx.context()
        replacements = {key: render(value, context) for key, value in params.placeholders.items()}
        ref: dict[str, Any] = {}
        links: dict[str, str] = {}
        writes: dict[str, ColumnValue] = {}
        made = []
        for key, template in params.templates.items():
            tag = DriveTag(ctx.lead.item_id, f"{ctx.spec.name}:{key}")
            copy = drive.find_tagged(tag, folder_id)
            if copy is None:
                name = single_line(render(template.name, context), limit=200)
                copy = drive.copy_file(template.file_id, name, folder_id, tag)
            if replacements:
                drive.fill_placeholders(copy, replacements)
            ref[key] = {"file_id": copy.id, "url": copy.url}
            links[key] = copy.url
            made.append(f"{copy.name}: {copy.url}")
            if template.link_column:
                writes[template.link_column] = LinkValue(copy.url, copy.name)
        return EffectOutcome("copied " + "; ".join(made), ref=ref, links=links, writes=writes)

    def describe(self, params: DriveCopiesParams, context: Mapping[str, str] | None = None) -> str:
        return "copy " + " and ".join(params.templates) + " into the lead folder"

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
            f"{key} {value['url']}"
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
