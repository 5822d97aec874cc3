"""A file people must put in the lead folder within some days (the signed contract).

Until ``within_days`` after the check first became due, a missing file is fine: the check waits
quietly (no note, not a problem in ``status``). After that, a missing file is one note on the
item naming the folder and the file expected, and the lead needs a person until it is there.
As soon as a file whose name contains ``name_contains`` (any case) is in the folder, the check
is done.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field

from leadbridge.domain.errors import MissingInput
from leadbridge.domain.ports import Drive, DriveFile
from leadbridge.effects.base import EffectContext, EffectKind, EffectOutcome, EffectParams
from leadbridge.effects.drive_copies import lead_folder
from leadbridge.effects.links import FOLDER_MIME
from leadbridge.effects.services import DRIVE

#: Ledger ref key: when the check first became due (ISO 8601, UTC).
DUE_SINCE = "due_since"


#: How often a check that is not due yet looks for the file.
QUIET_LOOK_EVERY = timedelta(hours=1)


class FolderFileCheckParams(EffectParams):
    kind: Literal["folder_file_check"]
    folder_effect: str
    #: Part of the expected file's name, matched ignoring case ("contract").
    name_contains: str = Field(min_length=1)
    #: Days after the check first became due before a missing file is said on the item.
    within_days: int = Field(14, ge=0)


class FolderFileCheck(EffectKind[FolderFileCheckParams]):
    name = "folder_file_check"
    params = FolderFileCheckParams
    port = DRIVE

    def run(self, ctx: EffectContext[FolderFileCheckParams]) -> EffectOutcome:
        params = ctx.params
        now = ctx.now or datetime.combine(ctx.today, datetime.min.time())
        since_text = ctx.entry.ref.get(DUE_SINCE)
        since = datetime.fromisoformat(since_text) if since_text else now
        try:
            # The lead folder as the copies find it: made, adopted, or linked by staff.
            folder = lead_folder(ctx)
        except MissingInput as missing:
            # No folder yet: say which link is missing, but only once the file is due.
            message = (
                f"cannot look for a file with {params.name_contains!r} in its name: the item "
                "links no lead folder leadbridge can see."
            )
            raise self._waiting(ctx, since, now, message, missing.fix) from None
        drive: Drive = ctx.require_port()
        wanted = params.name_contains.casefold()
        found = _matching(drive.list_files(folder.id), wanted)
        if found is not None:
            return EffectOutcome(
                summary=f"found {found.name!r} in the lead folder",
                ref={"file_id": found.id, "name": found.name, "url": found.url},
            )
        raise self._waiting(
            ctx,
            since,
            now,
            f"no file with {params.name_contains!r} in its name is in the lead folder "
            f"{folder.url or folder.id}, {params.within_days} day(s) after this stage was "
            "reached.",
            f"put the file (for example the signed {params.name_contains}) into that folder; "
            "leadbridge looks again in its next cycle",
        )

    def _waiting(
        self,
        ctx: EffectContext[FolderFileCheckParams],
        since: datetime,
        now: datetime,
        message: str,
        fix: str,
    ) -> MissingInput:
        deadline = since + timedelta(days=ctx.params.within_days)
        ref = {DUE_SINCE: since.isoformat()}
        if now < deadline:
            # A file put into Drive changes nothing on the board: look hourly until it is
            # due, rather than listing the folder in every cycle for two weeks.
            return MissingInput(
                "leadbridge",
                f"not due before {deadline.isoformat(timespec='minutes')}.",
                quiet=True,
                ref=ref,
                look_again_at=min(deadline, now + QUIET_LOOK_EVERY),
            )
        return MissingInput("leadbridge", message, fix=fix, ref=ref)

    def describe(
        self, params: FolderFileCheckParams, context: Mapping[str, str] | None = None
    ) -> str:
        return (
            f"check that a file with {params.name_contains!r} in its name is in the lead "
            f"folder within {params.within_days} day(s)"
        )

    def implied_needs(self, params: FolderFileCheckParams) -> tuple[str, ...]:
        return (params.folder_effect,)

    def with_ids(
        self, params: FolderFileCheckParams, ids: Mapping[str, str]
    ) -> FolderFileCheckParams:
        return params.model_copy(update={"folder_effect": ids[params.folder_effect]})

    def made(self, ref: Mapping[str, Any]) -> str:
        return str(ref.get("url", "")) or str(ref.get("name", "")) or "file found"


def _matching(files: list[DriveFile], wanted: str) -> DriveFile | None:
    for file in files:
        if file.mime_type != FOLDER_MIME and wanted in file.name.casefold():
            return file
    return None
