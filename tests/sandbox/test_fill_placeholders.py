"""Filling placeholders in copies of the templates, through the real adapter and the sandbox.

A value put into a document or a sheet is never expanded again, whatever it looks like, and
lead data never becomes a formula; the template's own formulas stay formulas.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from leadbridge.adapters.google.drive import (
    DOCUMENT,
    SPREADSHEET,
    GoogleDrive,
    a1_cell,
    fill_formula,
    fill_text,
)
from leadbridge.domain.ports import DriveFile as Copy
from leadbridge.domain.ports import DriveTag
from leadbridge.sandbox.config import write_sandbox_config
from leadbridge.sandbox.server import Sandbox
from leadbridge.sandbox.state import DriveFile, Formula
from leadbridge.sandbox.world import (
    LEADS_FOLDER_ID,
    PRICE_QUOTE_TEMPLATE_ID,
    PRICING_SHEET_TEMPLATE_ID,
    SHARED_DRIVE_ID,
)
from leadbridge.settings import load_settings

INJECTION = '=IMPORTXML("http://x")'
#: Values that look like placeholders of each other, in a cycle: one pass or it shows.
LOOKALIKES = {
    "{{lead_name}}": INJECTION,
    "{{organization}}": "{{lead_name}}",
    "{{contact_name}}": "{{date}}",
    "{{date}}": "2026-11-27",
}


@pytest.fixture
def drive(sandbox: Sandbox, tmp_path: Path) -> GoogleDrive:
    config = write_sandbox_config(sandbox, tmp_path)
    return GoogleDrive.from_settings(load_settings(config.path, secrets_dir=config.secrets_dir))


def _copy(drive: GoogleDrive, template: str, key: str) -> Copy:
    return drive.copy_file(template, key, LEADS_FOLDER_ID, DriveTag("42", key))


def _cells(sandbox: Sandbox, file_id: str, tab: str) -> list[list[str]]:
    with sandbox.state.lock:
        return [list(row) for row in sandbox.state.google.files[file_id].sheets[tab]]


def test_values_that_look_like_placeholders_stay_literal_in_quote_and_sheet(
    sandbox: Sandbox, drive: GoogleDrive
) -> None:
    quote = _copy(drive, PRICE_QUOTE_TEMPLATE_ID, "price_quote")
    sheet = _copy(drive, PRICING_SHEET_TEMPLATE_ID, "pricing_sheet")

    drive.fill_placeholders(quote, LOOKALIKES)
    drive.fill_placeholders(sheet, LOOKALIKES)

    text = sandbox.state.google.files[quote.id].text
    assert f"Prepared for: {INJECTION}\n" in text
    assert "Organization: {{lead_name}}\n" in text
    assert "Contact: {{date}}\n" in text
    assert "Date: 2026-11-27\n" in text
    assert "one managed JupyterHub for {{lead_name}}, operated" in text
    rows = {row[0]: row[1] for row in _cells(sandbox, sheet.id, "Pricing")}
    assert rows["Pricing sheet"] == INJECTION
    assert not isinstance(rows["Pricing sheet"], Formula)  # stored as text
    assert rows["Organization"] == "{{lead_name}}"
    assert rows["Contact"] == "{{date}}"
    assert rows["Date"] == "2026-11-27"
    # A placeholder inside a sentence reads naturally, with no apostrophe showing.
    assert rows["Terms"] == (
        "This estimate for {{lead_name}} is valid for 30 days from 2026-11-27."
    )
    # The template's formula is left alone: still a formula.
    assert isinstance(rows["Total"], Formula) and rows["Total"] == "=SUM(B6:B7)"
    # Only the cells with a placeholder were written, all of them as RAW values.
    assert sandbox.state.requests["sheets"]["values.batchUpdate"] == 1


def test_a_placeholder_in_a_formula_keeps_the_formula_and_the_value_text(
    sandbox: Sandbox, drive: GoogleDrive
) -> None:
    with sandbox.state.lock:
        sandbox.state.google.files["SHEET1"] = DriveFile(
            "SHEET1",
            "Quote sheet",
            SPREADSHEET,
            [LEADS_FOLDER_ID],
            SHARED_DRIVE_ID,
            "2026-01-01T00:00:00.000Z",
            sheets={
                "Quote 'A'": [
                    ["Dear {{contact_name}}, here is the quote for {{organization}}.", "100"],
                    [Formula('="Prepared for "&"{{lead_name}}"'), "200"],
                    [Formula("=LEN({{lead_name}})"), Formula("=SUM(B1:B2)")],
                    ["", "{{lead_name}}"],
                ]
            },
        )
    values = {**LOOKALIKES, "{{organization}}": 'Quinn "Q" Lab'}

    drive.fill_placeholders(Copy("SHEET1", "Quote sheet", "u", SPREADSHEET), values)

    cells = _cells(sandbox, "SHEET1", "Quote 'A'")
    assert cells[0] == ['Dear {{date}}, here is the quote for Quinn "Q" Lab.', "100"]
    assert not isinstance(cells[0][0], Formula)
    prepared, length, total = cells[1][0], cells[2][0], cells[2][1]
    assert isinstance(prepared, Formula)
    assert prepared == '="Prepared for "&"=IMPORTXML(""http://x"")"'
    assert isinstance(length, Formula) and length == '=LEN("=IMPORTXML(""http://x"")")'
    assert isinstance(total, Formula) and total == "=SUM(B1:B2)"
    assert cells[3][1] == INJECTION and not isinstance(cells[3][1], Formula)
    # Text and formulas go in one batch each: RAW for the text, USER_ENTERED for formulas.
    assert sandbox.state.requests["sheets"]["values.batchUpdate"] == 2


def test_a_value_that_completes_a_placeholder_with_the_text_after_it_is_left_alone(
    sandbox: Sandbox, drive: GoogleDrive
) -> None:
    with sandbox.state.lock:
        sandbox.state.google.files["DOC1"] = DriveFile(
            "DOC1",
            "Quote",
            DOCUMENT,
            [LEADS_FOLDER_ID],
            SHARED_DRIVE_ID,
            "2026-01-01T00:00:00.000Z",
            text="Contact: {{contact_name}}date}}\nFor {{organization}} on {{date}}\n",
        )
    values = {"{{contact_name}}": "{{", "{{organization}}": "{{date}}", "{{date}}": "today"}

    drive.fill_placeholders(Copy("DOC1", "Quote", "u", DOCUMENT), values)

    assert sandbox.state.google.files["DOC1"].text == ("Contact: {{date}}\nFor {{date}} on today\n")


def test_fill_text_and_formula_are_single_pass() -> None:
    values = {"{{a}}": "{{b}}", "{{b}}": "{{a}}", "{{a}}x": "long"}
    assert fill_text("{{a}} {{b}} {{a}}x", values) == "{{b}} {{a}} long"
    assert fill_formula('=CONCAT("{{a}}", {{b}})', values) == '=CONCAT("{{b}}", "{{a}}")'
    assert fill_formula('="say ""{{a}}"""', {"{{a}}": 'a "b"'}) == '="say ""a ""b"""""'


def test_a1_cell_quotes_the_tab_and_counts_columns_past_z() -> None:
    assert a1_cell("Pricing", 0, 0) == "'Pricing'!A1"
    assert a1_cell("Quote 'A'", 9, 25) == "'Quote ''A'''!Z10"
    assert a1_cell("T", 0, 26) == "'T'!AA1"
    assert a1_cell("T", 0, 701) == "'T'!ZZ1"
    assert a1_cell("T", 0, 702) == "'T'!AAA1"
