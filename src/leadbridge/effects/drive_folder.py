"""The lead's Drive folder, in the leads folder, tagged so that a retry finds it again.

A folder staff made by hand counts: when the item's folder link column holds a link to a
folder leadbridge can see, that folder is the lead's folder, whoever made it; it is recorded
when the effect is adopted, and used instead of making a second one when the effect runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from leadbridge.domain.errors import MissingInput
from leadbridge.domain.model import Lead, LinkValue
from leadbridge.domain.ports import Drive, DriveFile, DriveTag
from leadbridge.domain.render import column_in_words, render, single_line
from leadbridge.effects.base import EffectContext, EffectKind, EffectOutcome, EffectParams
from leadbridge.effects.links import visible_drive_file
from leadbridge.effects.services import DRIVE

if TYPE_CHECKING:
    from leadbridge.settings import Settings


class DriveFolderParams(EffectParams):
    kind: Literal["drive_folder"]
    name: str = "{name}"
    #: Placeholders in copies may use ``{<link>_url}`` for this folder.
    link: str = "folder"
    link_column: str | None = None


class DriveFolder(EffectKind[DriveFolderParams]):
    name = "drive_folder"
    params = DriveFolderParams
    port = DRIVE

    def run(self, ctx: EffectContext[DriveFolderParams]) -> EffectOutcome:
        params = ctx.params
        drive: Drive = ctx.require_port()
        name = single_line(render(params.name, ctx.context()), limit=200) or ctx.lead.item_id
        tag = DriveTag(ctx.lead.item_id, ctx.spec.name)
        parent = ctx.env["parent_id"]
        folder = drive.find_tagged(tag, parent)
        verb, by_hand = "found", False
        if folder is None and params.link_column and ctx.lead.value(params.link_column).strip():
            # Made by hand and linked on the item: the lead's folder, not a reason for another.
            folder = _on_the_board(ctx)
            if folder is None:
                raise unusable_folder_link(ctx.lead, params.link_column)
            verb, by_hand = "found on the item", True
        if folder is None:
            folder = drive.create_folder(name, parent, tag)
            verb = "created"
        writes = (
            {params.link_column: LinkValue(folder.url, folder.name)}
            if params.link_column and not by_hand
            else {}
        )
        return EffectOutcome(
            summary=f"{verb} the lead folder {folder.name}: {folder.url}",
            ref={"file_id": folder.id, "url": folder.url},
            links={params.link: folder.url},
            writes=writes,
        )

    def adopt(self, ctx: EffectContext[DriveFolderParams]) -> Mapping[str, Any] | None:
        folder = _on_the_board(ctx)
        if not folder:
            return None
        return {
            "file_id": folder.id,
            "url": folder.url,
            "links": {ctx.params.link: folder.url},
            "found": "on the item",
        }

    def existing(self, ctx: EffectContext[DriveFolderParams]) -> str | None:
        drive: Drive = ctx.require_port()
        found = drive.find_tagged(DriveTag(ctx.lead.item_id, ctx.spec.name), ctx.env["parent_id"])
        return found.url if found else None

    def describe(self, params: DriveFolderParams, context: Mapping[str, str] | None = None) -> str:
        return "create the lead folder"

    def templates(self, params: DriveFolderParams) -> Iterable[tuple[str, str]]:
        return [("name", params.name)]

    def links(self, params: DriveFolderParams) -> Iterable[str]:
        return [params.link]

    def link_columns(self, params: DriveFolderParams) -> Iterable[str]:
        return [params.link_column] if params.link_column else []

    def environment(self, settings: Settings) -> Mapping[str, Any]:
        return {"parent_id": settings.google.leads_folder_id}

    def made(self, ref: Mapping[str, Any]) -> str:
        return f"folder: {ref.get('url')}"


def unusable_folder_link(lead: Lead, column: str) -> MissingInput:
    """The folder link column holds something that is not a folder leadbridge can see."""
    return MissingInput(
        "leadbridge",
        f"the link in {column_in_words(column)} does not open a Drive folder leadbridge can see "
        "(it names no folder, or the folder is not shared with leadbridge's account).",
        fix=f"paste the lead folder's Drive link into {column_in_words(column)} and share the "
        "folder with leadbridge's account (or clear the column to let leadbridge make one); "
        "leadbridge looks again in its next cycle",
    )


def _on_the_board(ctx: EffectContext[DriveFolderParams]) -> DriveFile | None:
    """The folder the item's link column points at, if Drive shows it to leadbridge."""
    column = ctx.params.link_column
    if not column or not ctx.lead.value(column).strip():
        return None
    drive: Drive = ctx.require_port()
    return visible_drive_file(drive, ctx.lead.value(column), folder=True)
