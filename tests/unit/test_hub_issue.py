"""The hub-issue body is checked the way GitHub will read it: parsed as CommonMark."""

from __future__ import annotations

import html
import re
from datetime import date

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from leadbridge.domain.model import Lead
from leadbridge.domain.ports import hub_marker
from leadbridge.domain.render import template_context
from leadbridge.effects.hub_body import (
    GITHUB_BODY_LIMIT,
    GITHUB_TITLE_LIMIT,
    NO_RESPONSE,
    neutralise,
    render_hub_issue,
)

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
    lead: Lead, *, body: str | None = None, title: str = "New Hub: {name}"
) -> tuple[str, str]:
    links = {"folder": "https://drive.google.com/drive/folders/F1"}
    context = template_context(lead, links, date(2026, 5, 1))
    return render_hub_issue(
        lead, title_template=title, body_template=body, fields=FIELDS, context=context
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
    _, body = issue(lead_with(contact_email="ada@example.edu"))

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
