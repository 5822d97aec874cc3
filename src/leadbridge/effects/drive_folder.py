"""The lead's Drive folder, in the leads folder, tagged so that a retry finds it again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from leadbridge.domain.model import LinkValue
from leadbridge.domain.ports import Drive, DriveTag
from leadbridge.domain.render import render, single_line
from leadbridge.effects.base import EffectContext, EffectKind, EffectOutcome, EffectParams
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
        created = folder is None
        if folder is None:
            folder = drive.create_folder(name, parent, tag)
        verb = "created" if created else "found"
        writes = (
            {params.link_column: LinkValue(folder.url, folder.name)} if params.link_column else {}
        )
        return EffectOutcome(
            summary=f"{verb} the lead folder {folder.name}: {folder.url}",
            ref={"file_id": folder.id, "url": folder.url},
            links={params.link: folder.url},
            writes=writes,
        )

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
