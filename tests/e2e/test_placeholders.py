"""A lead whose fields look like placeholders, or like a formula, through the real CLI: the
quote and the pricing sheet show them literally, and the sheet's own formula stays one."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from leadbridge.adapters.google.drive import EFFECT_KEY, ITEM_KEY
from leadbridge.sandbox import Sandbox, SeedLead, seed_board, set_values
from leadbridge.sandbox.state import Formula
from tests.e2e.support import Leadbridge, by_column_id

pytestmark = pytest.mark.e2e

NAME = '=IMPORTXML("http://x")'


def test_contact_named_date_and_organization_named_lead_name_appear_literally(
    sandbox: Sandbox, leadbridge: Callable[..., Leadbridge]
) -> None:
    app = leadbridge()
    lead = SeedLead(
        NAME,
        {
            "organization": "{{lead_name}}",
            "contact_name": "{{date}}",
            "contact_email": "quinn@lab.example",
        },
    )
    (item,) = seed_board(sandbox.state, None, [lead])
    app.sync()  # the first meeting: nothing past a stage yet
    set_values(
        sandbox.state,
        item,
        by_column_id({"triage_status": "In Scope", "negotiation_status": "Create Quote"}),
    )
    app.sync()

    with sandbox.state.lock:
        copies = {
            f.app_properties[EFFECT_KEY]: f
            for f in sandbox.state.google.files.values()
            if f.app_properties.get(ITEM_KEY) == item
            and f.app_properties.get(EFFECT_KEY, "").startswith("quote_copies:")
        }
        quote = copies["quote_copies:price_quote"].text
        rows = {row[0]: row[1] for row in copies["quote_copies:pricing_sheet"].sheets["Pricing"]}
    assert f"Prepared for: {NAME}\n" in quote
    assert "Organization: {{lead_name}}\n" in quote
    assert "Contact: {{date}}\n" in quote
    assert re.search(r"^Date: \d{4}-\d\d-\d\d$", quote, re.MULTILINE)
    assert rows["Pricing sheet"] == NAME and not isinstance(rows["Pricing sheet"], Formula)
    assert rows["Organization"] == "{{lead_name}}"
    assert rows["Contact"] == "{{date}}"
    assert re.fullmatch(
        r"This estimate for \{\{lead_name\}\} is valid for 30 days from \d{4}-\d\d-\d\d\.",
        rows["Terms"],
    )
    assert isinstance(rows["Total"], Formula)
