"""The files in a lead folder, every page, through the real adapter against the sandbox."""

from __future__ import annotations

from pathlib import Path

from leadbridge.adapters.google.drive import GoogleDrive
from leadbridge.domain.ports import DriveTag
from leadbridge.sandbox.config import write_sandbox_config
from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.world import LEADS_FOLDER_ID
from leadbridge.settings import load_settings


def test_list_files_reads_every_page_and_leaves_out_trashed_and_other_folders(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    written = write_sandbox_config(sandbox, tmp_path)
    drive = GoogleDrive.from_settings(load_settings(written.path, secrets_dir=written.secrets_dir))
    folder = drive.create_folder("Lead 7", LEADS_FOLDER_ID, DriveTag("7", "lead_folder"))
    other = drive.create_folder("Lead 8", LEADS_FOLDER_ID, DriveTag("8", "lead_folder"))
    drive.create_folder("Elsewhere", other.id, DriveTag("8", "x"))
    made = [drive.create_folder(f"f{n}", folder.id, DriveTag("7", f"f{n}")) for n in range(103)]
    sandbox.state.google.files[made[0].id].trashed = True
    before = sandbox.state.request_count("drive", "files.list")

    listed = drive.list_files(folder.id)

    assert {f.id for f in listed} == {f.id for f in made[1:]}
    assert sandbox.state.request_count("drive", "files.list") - before == 2
    assert drive.list_files(other.id)[0].name == "Elsewhere"
