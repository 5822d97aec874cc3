"""One parser for the links staff paste on the board, in every form Drive and GitHub give out."""

from __future__ import annotations

import pytest

from leadbridge.effects.links import FOLDER_MIME, drive_id, issue_link, visible_drive_file
from tests.fakes import FakeDrive

ID = "1AbC-d_EfGhIjKlMnOpQrStUvWxYz012"


@pytest.mark.parametrize(
    "link",
    [
        f"https://drive.google.com/drive/folders/{ID}",
        f"https://drive.google.com/drive/folders/{ID}?usp=sharing",
        f"https://drive.google.com/drive/u/1/folders/{ID}?usp=drive_link",
        f"https://drive.google.com/open?id={ID}",
        f"https://drive.google.com/open?usp=forms&id={ID}",
        f"https://drive.google.com/file/d/{ID}/view?usp=drivesdk",
        f"https://docs.google.com/document/d/{ID}/edit",
        f"https://docs.google.com/spreadsheets/d/{ID}/edit#gid=0",
        f"https://docs.google.com/presentation/d/{ID}/edit?usp=sharing",
        f"  https://drive.google.com/drive/folders/{ID}  ",
        f"Lead folder - https://drive.google.com/drive/folders/{ID}",
    ],
)
def test_every_drive_link_form_names_its_id(link: str) -> None:
    assert drive_id(link) == ID


@pytest.mark.parametrize(
    "text",
    [
        "",
        "the folder is in the shared drive",
        "Acme Lab",  # a name is never a link: nothing is guessed from names
        "https://github.com/2i2c-org/pilot-hubs/issues/12",
        "https://example.org/",
        "https://drive.google.com/drive/my-drive",
    ],
)
def test_what_is_not_a_drive_link_names_nothing(text: str) -> None:
    assert drive_id(text) is None


def test_a_pasted_link_is_used_only_if_drive_shows_an_object_of_the_right_type() -> None:
    drive = FakeDrive()
    drive.add_folder(ID, "Acme (by hand)")
    drive.add_file("DOC1", "Quote", ID, "application/vnd.google-apps.document")
    folder_link = f"https://drive.google.com/open?id={ID}"

    found = visible_drive_file(drive, folder_link, folder=True)

    assert found is not None and found.mime_type == FOLDER_MIME
    assert visible_drive_file(drive, folder_link, folder=False) is None
    assert visible_drive_file(drive, "https://docs.google.com/document/d/DOC1/edit") is not None
    assert visible_drive_file(drive, "https://drive.google.com/file/d/GONE/view") is None
    assert visible_drive_file(drive, "Acme (by hand)", folder=True) is None
    assert drive.count("get_file") == 4  # the name was never looked up


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://github.com/2i2c-org/pilot-hubs/issues/12", ("2i2c-org/pilot-hubs", 12)),
        (
            "https://github.com/2i2c-org/pilot-hubs/issues/12#issuecomment-1",
            ("2i2c-org/pilot-hubs", 12),
        ),
        ("2i2c-org/pilot-hubs#7", ("2i2c-org/pilot-hubs", 7)),
        ("#7", (None, 7)),
        ("https://github.test/issues/3", (None, 3)),
        ("https://drive.google.com/drive/folders/abc", None),
        ("issue twelve", None),
    ],
)
def test_issue_links(text: str, expected: tuple[str | None, int] | None) -> None:
    assert issue_link(text) == expected
