"""A link staff pasted is checked with Drive through the real adapter, against the sandbox."""

from __future__ import annotations

from pathlib import Path

from leadbridge.adapters.google.drive import GoogleDrive
from leadbridge.domain.ports import DriveTag
from leadbridge.effects.links import FOLDER_MIME, visible_drive_file
from leadbridge.sandbox.config import write_sandbox_config
from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.world import LEADS_FOLDER_ID
from leadbridge.settings import load_settings


def test_a_pasted_folder_link_is_found_in_the_shared_drive(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    written = write_sandbox_config(sandbox, tmp_path)
    drive = GoogleDrive.from_settings(load_settings(written.path, secrets_dir=written.secrets_dir))
    made = drive.create_folder("Made by hand", LEADS_FOLDER_ID, DriveTag("7", "by-hand"))

    for link in (
        made.url,  # what Drive shows: https://drive.google.com/drive/folders/ID
        f"https://drive.google.com/open?id={made.id}",
        f"https://drive.google.com/drive/u/0/folders/{made.id}?usp=sharing",
    ):
        found = visible_drive_file(drive, link, folder=True)
        assert found is not None and (found.id, found.mime_type) == (made.id, FOLDER_MIME)

    assert drive.get_file("1NoSuchFileAnywhere") is None
    sandbox.state.google.files[made.id].trashed = True
    assert drive.get_file(made.id) is None
    assert sandbox.state.request_count("drive", "files.get") >= 4
