"""The hub-issue body is checked the way GitHub will read it: parsed as CommonMark."""

from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.model import Lead
from leadbridge.domain.ports import hub_marker
from leadbridge.domain.render import template_context
from leadbridge.effects.hub_body import (
    EMAIL_REMOVED,
    GITHUB_BODY_LIMIT,
    GITHUB_TITLE_LIMIT,
    NO_RESPONSE,
    PHONE_REMOVED,
    neutralise,
    remove_contact_details,
    render_hub_issue,
)
from leadbridge.settings import ConfigError, Settings, load_settings
from tests.conftest import EXAMPLE_CONFIG

from .harness import Harness, lead

FIELDS = {
    "Background": "community",
    "hub_url": "hub_url",
    "Community champion": "contact_name",
    "Contact e-mail": "contact_email",
}
SECTIONS = ["Background", "Setup Information", "Important Information", "Deploy To Do"]
MENTION = re.compile(r"(?<![A-Za-z0-9])@[A-Za-z0-9]")

HOSTILE = {
    "team mention": "Please loop in @2i2c-org/engineering and @choldgraf today.",
    "planted marker": "<!-- leadbridge:item=999 -->",
    "unbalanced fence": "```python\nprint('everything below is code now')\n",
    "tilde fence": "~~~\nstill code",
    "fake section": "done\n# Setup Information\n## Deploy To Do\nHub url\n===",
    "fake tasks": "- [x] Initial Hub deployment\n* [ ] extra task\n1. first",
    "html block": "<details><summary>x</summary>\n\n<img src=x onerror=alert(1)>",
    "table": "| a | b |\n|---|---|\n| 1 | 2 |",
    "escape games": "\\`\\`\\`\n\\<!-- x -->\n&lt;!-- y --&gt; &#64;team",
    "emphasis around mention": "_@2i2c-org/engineering_ and **@someone**",
    "cross reference": "see 2i2c-org/infrastructure#1234 and #7",
    "huge": "x" * 100_000,
}


def lead_with(**values: str) -> Lead:
    return Lead("4242", "Example University", values, "https://example.monday.com/items/4242")


def issue(
    lead: Lead,
    *,
    body: str | None = None,
    title: str = "New Hub: {name}",
    personal_data: bool = False,
) -> tuple[str, str]:
    links = {"folder": "https://drive.google.com/drive/folders/F1"}
    context = template_context(lead, links, date(2026, 5, 1))
    return render_hub_issue(
        lead,
        title_template=title,
        body_template=body,
        fields=FIELDS,
        context=context,
        personal_data=personal_data,
    )


def parse(body: str) -> list[Token]:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(body)


def headings(tokens: list[Token]) -> list[str]:
    return [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]


def text_nodes(tokens: list[Token]) -> list[str]:
    return [child.content for t in tokens for child in (t.children or []) if child.type == "text"]


def github_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2 + text.count("\n")


def test_default_body_follows_the_handbook_template() -> None:
    lead = lead_with(community="A university research group.", contact_name="Ada Lovelace")
    title, body = issue(lead)

    tokens = parse(body)
    assert title == "New Hub: Example University"
    assert headings(tokens) == SECTIONS
    assert body.splitlines()[-1] == hub_marker("4242")
    assert "A university research group." in body
    assert "**Community champion**\n\nAda Lovelace" in body
    assert "**Link to the lead**\n\nhttps://example.monday.com/items/4242" in body
    assert "**Lead folder**\n\nhttps://drive.google.com/drive/folders/F1" in body
    assert "- [ ] Hub now in steady-state" in body


def test_empty_fields_read_no_response_and_unknown_labels_join_important_information() -> None:
    _, body = issue(lead_with(contact_email="ada@example.edu"), personal_data=True)

    assert "# Background\n\n_No response_" in body
    assert f"**Hub url**\n\n{NO_RESPONSE}" in body
    important = body.split("# Important Information")[1].split("# Deploy To Do")[0]
    assert "**Contact e-mail**\n\nada@example.edu" in important


def test_a_label_matches_the_handbook_slot_whatever_its_spelling() -> None:
    _, body = issue(lead_with(hub_url="uni.pilot.2i2c.cloud"))

    assert "**Hub url**\n\nuni.pilot.2i2c.cloud" in body
    assert "**hub_url**" not in body


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_lead_text_stays_inert(case: str) -> None:
    value = HOSTILE[case]
    title, body = issue(lead_with(community=value, contact_email=value), title="{community}")

    tokens = parse(body)
    assert headings(tokens) == SECTIONS
    assert not [t for t in tokens if t.type in ("fence", "code_block", "table_open")]
    html_blocks = [t.content.strip() for t in tokens if t.type == "html_block"]
    assert html_blocks == [hub_marker("4242")]
    assert body.count("leadbridge:item=") == 1
    assert not [t for t in text_nodes(tokens) if MENTION.search(t)]
    assert not [t for t in text_nodes(tokens) if re.search(r"#[0-9]", t)]
    assert not [t for t in tokens for c in (t.children or []) if c.type == "html_inline"]
    items = [t for t in tokens if t.type == "list_item_open"]
    assert len(items) == 4
    assert github_length(body) < GITHUB_BODY_LIMIT
    assert "\n" not in title
    assert len(title) <= GITHUB_TITLE_LIMIT


def test_a_huge_field_is_cut_with_a_visible_note() -> None:
    _, body = issue(lead_with(community="y" * 100_000))

    assert github_length(body) < GITHUB_BODY_LIMIT
    assert "more characters not shown" in body
    assert "The full text is on the monday.com item." in body
    assert body.splitlines()[-1] == hub_marker("4242")


def test_many_large_fields_together_still_fit() -> None:
    big = "🙂\n" * 30_000  # astral characters and newlines count double on GitHub's side
    _, body = issue(lead_with(community=big, hub_url=big, contact_name=big, contact_email=big))

    assert github_length(body) < GITHUB_BODY_LIMIT
    assert body.count("more characters not shown") == 4
    assert headings(parse(body)) == SECTIONS


def test_short_fields_are_never_cut() -> None:
    _, body = issue(lead_with(community="z" * 5_000))

    assert "z" * 5_000 in body
    assert "not shown" not in body


def test_custom_body_template_gets_inert_values_and_the_marker() -> None:
    lead = lead_with(community="@someone <b>bold</b>", hub_url="a.2i2c.cloud")
    template = "## Request\n\nHub: {hub_url}\n\nAbout: {community}\n\nLead: {item_url}\n"
    _, body = issue(lead, body=template)

    tokens = parse(body)
    assert headings(tokens) == ["Request"]
    assert "Hub: a.2i2c.cloud" in body
    assert "Lead: https://example.monday.com/items/4242" in body
    assert not [t for t in text_nodes(tokens) if MENTION.search(t)]
    assert [t.content.strip() for t in tokens if t.type == "html_block"] == [hub_marker("4242")]
    assert body.splitlines()[-1] == hub_marker("4242")


def test_an_oversized_custom_template_is_cut_visibly() -> None:
    _, body = issue(lead_with(), body="word " * 20_000)

    assert github_length(body) < GITHUB_BODY_LIMIT
    assert "the rest of this description was cut" in body
    assert body.splitlines()[-1] == hub_marker("4242")


def test_title_is_one_line_within_github_limit() -> None:
    title, _ = issue(lead_with(community="a\r\nb" + "c" * 400), title="New Hub: {community}")

    assert title.startswith("New Hub: a b")
    assert "\n" not in title and "\r" not in title
    assert len(title) <= GITHUB_TITLE_LIMIT


@pytest.mark.parametrize(
    "text",
    [
        "a < b & c > d | e",
        "`code` and \\ backslash",
        "# not a heading",
        "- not a list\n+ nor this",
        "1. not ordered",
        "===",
        "[ref]: https://example.org",
        "jane.doe@example.org",
        "C:\\Users\\ada",
    ],
)
def test_neutralised_text_still_reads_as_typed(text: str) -> None:
    rendered = MarkdownIt("commonmark").enable("table").render(neutralise(text))
    visible = html.unescape(re.sub(r"<[^>]+>", "", rendered)).replace("\u200b", "").strip()

    assert visible == text


def test_mentions_are_broken_but_email_addresses_are_kept() -> None:
    shown = neutralise("ask @ada, (@2i2c-org/team) or write to ada@example.org")

    assert "@\u200bada" in shown
    assert "(@\u200b2i2c-org/team)" in shown
    assert "ada@example.org" in shown


# ---------------------------------------------------------------- no personal data by default

FREE_TEXT = (
    "Pilot since 2026-05-01 for our 2024-2025 course (JupyterHub 4.1.5, budget $12,000, "
    "see https://uni.pilot.2i2c.cloud). Questions: ada.lovelace@uni.example.edu or "
    "+1 (510) 555-0123; office 020 7946 0958."
)
ANY_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


def _config(tmp_path: Path, **hub_issue: object) -> Path:
    """The example configuration with an e-mail and a phone column shown in the hub issue."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["columns"]["contact_phone"] = {"id": "phone_contact", "type": "phone"}
    effect = data["effects"]["hub_issue"]
    effect["fields"].update({"Contact e-mail": "contact_email", "Phone": "contact_phone"})
    effect.update(hub_issue)
    path = tmp_path / "leadbridge.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def _hub_issue_of(settings: Settings, store: SqlStateStore) -> tuple[str, str]:
    h = Harness(settings, store)
    h.start_empty()
    h.board.put(
        lead(
            "9",
            triage_status="Questionnaire Received",
            negotiation_status="Contract Signed",
            organization="Uni (switchboard 510-555-0199)",
            contact_phone="+1 510 555 0100",
            community=FREE_TEXT,
            hub_url="uni.pilot.2i2c.cloud",
        )
    )
    h.cycle()
    h.cycle()
    ((_, title, body, _),) = h.issues.issues
    return title, body


def test_the_default_pipeline_publishes_no_e_mail_address_or_phone_number(
    example_settings: Settings, store: SqlStateStore
) -> None:
    title, body = _hub_issue_of(example_settings, store)

    shown = f"{title}\n{body}"
    assert not ANY_EMAIL.search(shown)
    for number in ("555-0123", "7946", "555-0199", "555 0100"):
        assert number not in shown
    assert title == f"New Hub: Uni (switchboard {PHONE_REMOVED})"
    assert f"{EMAIL_REMOVED} or {PHONE_REMOVED}; office {PHONE_REMOVED}." in body
    for kept in ("2026-05-01", "2024-2025", "4.1.5", "$12,000", "https://uni.pilot.2i2c.cloud"):
        assert kept in body
    assert "**Hub url**\n\nuni.pilot.2i2c.cloud" in body
    # A name in a role the handbook template asks for, not a way to reach the person.
    assert "**Community champion**\n\nAda Lovelace" in body
    assert "Contact e-mail" not in body


def test_showing_an_e_mail_or_phone_column_is_refused_unless_personal_data(
    tmp_path: Path, secrets_dir: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_config(tmp_path), secrets_dir=secrets_dir)

    problems = caught.value.problems
    fix = (
        "Fix: remove it from fields, or set personal_data: true if the repository is private "
        "or the person agreed to it"
    )
    email = "effects.hub_issue.fields.Contact e-mail: column 'contact_email' holds e-mail"
    phone = "effects.hub_issue.fields.Phone: column 'contact_phone' holds phone numbers"
    assert any(line.startswith(email) and line.endswith(fix) for line in problems), problems
    assert any(line.startswith(phone) and line.endswith(fix) for line in problems), problems


def test_personal_data_true_shows_contact_details_as_they_are(
    tmp_path: Path, secrets_dir: Path, store: SqlStateStore
) -> None:
    settings = load_settings(_config(tmp_path, personal_data=True), secrets_dir=secrets_dir)

    title, body = _hub_issue_of(settings, store)

    assert title == "New Hub: Uni (switchboard 510-555-0199)"
    assert "**Contact e-mail**\n\nada9@uni.example.edu" in body
    assert "**Phone**\n\n\\+1 510 555 0100" in body  # escaped: "+" would start a list
    assert "ada.lovelace@uni.example.edu or +1 (510) 555-0123; office 020 7946 0958." in body
    assert "removed]" not in body


def test_values_that_are_not_the_leads_are_never_touched() -> None:
    lead = Lead("1234567890", "Uni", {"community": "call 5105550123"}, "https://x/1234567890")
    _, body = issue(lead, body="Item {item_id} ({item_url}): {community}")

    assert f"Item 1234567890 (https://x/1234567890): call {PHONE_REMOVED}" in body


@pytest.mark.parametrize(
    "number",
    [
        "+1 (510) 555-0123",
        "(510) 555-0123",
        "(510)555-0123",
        "510-555-0123",
        "510.555.0123",
        "510 555 0123",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "020 7946 0958",
        "07700 900123",
        "+49 30 1234567",
        "030/1234567",
        "01 23 45 67 89",
        "01-23-45-67-89",
        "06 12345678",
        "+34 612 345 678",
        "+15105550123",
        "5105550123",
    ],
)
def test_phone_numbers_are_removed(number: str) -> None:
    assert remove_contact_details(f"Call {number}, or not.") == f"Call {PHONE_REMOVED}, or not."
    assert remove_contact_details(f"({number})") == f"({PHONE_REMOVED})"
    assert remove_contact_details(number) == PHONE_REMOVED


def test_a_phone_number_next_to_a_date_or_a_link_is_still_removed() -> None:
    text = "2026-05-01 510 555 0123 tel:+15105550123 510-555-0123 2026-06-01"
    assert remove_contact_details(text) == (
        f"2026-05-01 {PHONE_REMOVED} tel:{PHONE_REMOVED} {PHONE_REMOVED} 2026-06-01"
    )


def test_phone_numbers_written_one_after_another_are_all_removed() -> None:
    # One run of 20 digits is too long for one phone, so it is taken apart.
    shown = remove_contact_details("Call 510 555 0123 510 555 0199 or 020 7946 0958 0121 496 0000")
    assert not re.search(r"[0-9]", shown), shown


@pytest.mark.parametrize(
    "text",
    [
        # dates and times
        "2026-05-01",
        "2026-05-01T09:30:00Z",
        "01.05.2026",
        "1.5.2026",
        "05/01/2026",
        "2026/05/01",
        "2024-2025",
        "2024/25",
        "10:00-12:30",
        # hub URLs and other links
        "uni.pilot.2i2c.cloud",
        "https://uni.pilot.2i2c.cloud/hub/login",
        "https://example.monday.com/boards/1234567890/pulses/9876543210",
        "https://zoom.us/j/5105550123?pwd=abc",
        "https://hub.example.org:8443/user/5105550123/lab",
        "https://github.com/2i2c-org/infrastructure/issues/1234567",
        "DOI 10.5281/zenodo.1234567",
        # version numbers and addresses
        "JupyterHub 4.1.5",
        "v2023.10.1",
        "2023.10.1",
        "10.0.19041.1",
        "192.168.100.200",
        "image: quay.io/2i2c/lab:2024.05.13-abc1234",
        # money
        "$12,000",
        "$1,500,000.00",
        "US$ 1500000",
        "USD 1500000",
        "USD 15000000000",
        "1 500 000 €",
        "EUR 2 500 000",
        "€ 1.234.567,89",
        "12.000,00 EUR",
        "CHF 1'500'000",
        "1500000 dollars",
        "£1,234,567",
        "a grant of 1 500 000 over 3 years",
        "1000-5000 users",
        # other numbers
        "NSF award 2229876",
        "ORCID 0000-0002-1825-0097",
        "item 4242",
        "200 users in 3 courses",
        "cohorts of 2019 2020 2021",
        "sizes 1 2 3 4 5 6 7 8",
        "sizes 100 200 300 400 500 600",
    ],
)
def test_dates_links_versions_and_money_are_kept(text: str) -> None:
    assert remove_contact_details(f"See {text} here.") == f"See {text} here."
    assert remove_contact_details(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ada@example.org", EMAIL_REMOVED),
        ("Ada.Lovelace+hub@uni.example.ac.uk.", f"{EMAIL_REMOVED}."),
        ("<ada@example.org>", f"<{EMAIL_REMOVED}>"),
        ("mailto:ada@example.org", f"mailto:{EMAIL_REMOVED}"),
        ("jörg@uni-münchen.de", EMAIL_REMOVED),
        ("ask @choldgraf or @2i2c-org/team", "ask @choldgraf or @2i2c-org/team"),
        ("2i2c-org/infrastructure#12", "2i2c-org/infrastructure#12"),
    ],
)
def test_e_mail_addresses_are_removed_and_mentions_kept(text: str, expected: str) -> None:
    assert remove_contact_details(text) == expected


def test_removal_stays_linear_on_long_digit_runs() -> None:
    # One pass per run: no backtracking from every space of a long run of digit groups.
    text = "1 " * 50_000 + "x"
    assert remove_contact_details(text) == text
