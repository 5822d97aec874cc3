"""The "new hub" issue engineers receive: its title and a Markdown body they can trust.

The body follows the pilot-hubs ``new-hub.md`` template of the handbook's time (Background;
Setup Information; Important Information; Deploy To Do), because that is the form the engineers
already work from, and the API applies no template to issues it creates.

Everything a lead's columns contribute is typed by sales staff or copied from a customer's
e-mail, so it is made inert before it reaches Markdown: it cannot mention (and so notify)
anyone, cannot open HTML or a comment (and so cannot plant a second ``leadbridge`` marker or
hide the rest of the body), cannot start a heading, list, table or code block that would bend
the sections around it, and cannot push the body past GitHub's size limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from leadbridge.domain.model import Lead
from leadbridge.domain.ports import hub_marker
from leadbridge.domain.render import render, single_line

#: GitHub refuses (422) an issue body longer than this.
GITHUB_BODY_LIMIT = 65_536
#: GitHub refuses (422) an issue title longer than this.
GITHUB_TITLE_LIMIT = 256
#: Room kept below the limit for the marker, the footer and any counting difference.
_BODY_BUDGET = GITHUB_BODY_LIMIT - 1_536

NO_RESPONSE = "_No response_"

#: Per-value caps tried in turn until the body fits; None keeps values whole.
_VALUE_CAPS: tuple[int | None, ...] = (None, 20_000, 8_000, 3_000, 1_000, 300, 80)

_BACKGROUND = "Background"
_SETUP = (
    "Hub auth type",
    "Hub administrators",
    "Hub url",
    "Hub logo",
    "Hub logo URL",
    "Hub type",
    "Hub cluster",
    "Hub image",
)
_IMPORTANT = (
    "Hub config name",
    "Community champion",
    "Hub start date",
    "Hub end date",
    "Hub important dates",
)
_DEPLOY_TODO = (
    "Initial Hub deployment",
    "Administrators able to log on",
    "Community Champion satisfied with hub environment",
    "Hub now in steady-state",
)


@dataclass(frozen=True)
class _Value:
    """One lead value after capping: its text and how many characters were cut from it."""

    text: str
    cut: int = 0


def render_hub_issue(
    lead: Lead,
    *,
    title_template: str,
    body_template: str | None,
    fields: Mapping[str, str],
    context: Mapping[str, str],
) -> tuple[str, str]:
    """Title and body of the hub issue for ``lead``; the body ends with its hidden marker.

    ``fields`` maps the label shown in the issue to a column name; a label that is one of the
    handbook template's own (``Background``, ``Hub url``, ``Community champion``, …; case,
    spaces and underscores do not matter) fills that place, any other label is added under
    Important Information. ``context`` is ``template_context()``; its ``item_url`` is the link
    back to the lead and ``folder_url``, when present, the lead's Drive folder. A custom
    ``body_template`` is rendered like any other template, with every value made inert.
    """
    title = single_line(render(title_template, context), GITHUB_TITLE_LIMIT)
    footer = _footer(lead.item_id)

    def build(cap: int | None) -> str:
        def value(raw: str) -> str:
            return _inert_value(_capped(raw, cap))

        if body_template is None:
            return _handbook_body(lead, fields, context, value)
        safe = {key: value(text) for key, text in context.items()}
        return render(body_template, safe).strip()

    for cap in _VALUE_CAPS:
        body = build(cap)
        if _github_length(body) <= _BODY_BUDGET:
            return title, body + footer
    return title, _cut_to_budget(body) + footer


def neutralise(text: str) -> str:
    """Markdown that shows ``text`` as typed and can do nothing else.

    Backslash escapes and entities keep the characters visible while taking away their
    meaning; a zero-width space after ``@`` and ``#`` keeps ``@team`` and ``org/repo#1``
    readable without notifying anyone or linking an issue, and one inside ``leadbridge:``
    keeps a copied marker from looking like ours even to a plain text search.
    """
    text = _clean_controls(text)
    text = _MENTION.sub("@\u200b", text)
    text = _REFERENCE.sub("#\u200b", text)
    text = _MARKER_WORD.sub("leadbridge\u200b:", text)
    text = "".join(_ESCAPES.get(ch, ch) for ch in text)
    lines = [_inert_line(line) for line in text.split("\n")]
    return _squeeze_blank_lines("\n".join(lines)).strip("\n")


# ---------------------------------------------------------------- the handbook template


def _handbook_body(
    lead: Lead,
    fields: Mapping[str, str],
    context: Mapping[str, str],
    value: Callable[[str], str],
) -> str:
    """Sections and labels of pilot-hubs' ``new-hub.md`` as engineers knew it in 2021."""
    by_label: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    known = {_slot_key(label): label for label in (_BACKGROUND, *_SETUP, *_IMPORTANT)}
    for label, column in fields.items():
        text = context.get(column, lead.value(column))
        slot = known.get(_slot_key(label))
        if slot is None:
            extra.append((label, text))
        else:
            by_label[slot] = text

    def shown(text: str) -> str:
        return value(text) or NO_RESPONSE

    def entry(label: str, text: str) -> str:
        return f"**{neutralise(single_line(label))}**\n\n{shown(text)}"

    links = [("Link to the lead", context.get("item_url", lead.url))]
    if context.get("folder_url"):
        links.append(("Lead folder", context["folder_url"]))
    parts = [
        "# Background",
        shown(by_label.get(_BACKGROUND, "")),
        "# Setup Information",
        *(entry(label, by_label.get(label, "")) for label in _SETUP),
        "# Important Information",
        *(entry(label, url) for label, url in links),
        *(entry(label, by_label.get(label, "")) for label in _IMPORTANT),
        *(entry(label, text) for label, text in extra),
        "# Deploy To Do",
        "\n".join(f"- [ ] {task}" for task in _DEPLOY_TODO),
    ]
    return "\n\n".join(parts)


def _slot_key(label: str) -> str:
    return " ".join(label.replace("_", " ").replace("-", " ").casefold().split())


def _footer(item_id: str) -> str:
    """A visible origin for people, then the hidden marker that finds the issue again."""
    shown = neutralise(single_line(item_id))
    return (
        f"\n\n---\n\n_Opened by leadbridge for monday.com item {shown}._\n\n{hub_marker(item_id)}"
    )


# ---------------------------------------------------------------- size


def _capped(text: str, cap: int | None) -> _Value:
    text = _clean_controls(text)
    if cap is None or len(text) <= cap:
        return _Value(text)
    return _Value(text[:cap], cut=len(text) - cap)


def _inert_value(value: _Value) -> str:
    shown = neutralise(value.text)
    if value.cut:
        shown += (
            f"\n\n_[… {value.cut:,} more characters not shown: GitHub limits the size of an "
            "issue. The full text is on the monday.com item.]_"
        )
    return shown


def _github_length(text: str) -> int:
    """A length GitHub's count cannot exceed: UTF-16 units, and each newline as CR LF."""
    return len(text.encode("utf-16-le")) // 2 + text.count("\n")


def _cut_to_budget(body: str) -> str:
    """Last resort for a configured template that is itself too long: cut it, visibly.

    A character counts at most twice (an astral character, a newline), so half the room in
    characters always fits.
    """
    note = "\n\n_[… the rest of this description was cut: GitHub limits the size of an issue.]_"
    room = _BODY_BUDGET - _github_length(note)
    return body[: room // 2].rstrip("\\") + note


# ---------------------------------------------------------------- inert text

#: ``@name`` or ``@org/team`` that GitHub would turn into a mention. A preceding letter or
#: digit (an e-mail address) is no mention; ``_`` and anything else may end up at the start of
#: a rendered text node (``_@team_``), so they do not protect.
_MENTION = re.compile(r"(?<![A-Za-z0-9])@(?=[A-Za-z0-9])")
#: ``#12`` and ``org/repo#12`` link (and notify) other issues.
_REFERENCE = re.compile(r"#(?=[0-9])")
#: Even escaped, a look-alike of our marker would mislead a person or a plain text search.
_MARKER_WORD = re.compile(r"leadbridge:", re.IGNORECASE)

_ESCAPES = {
    "\\": "\\\\",
    "`": "\\`",
    "|": "\\|",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
}
#: Characters that give a line a block meaning: headings, lists, setext underlines, thematic
#: breaks, tilde code fences, link reference definitions and footnotes. (Backticks, pipes and
#: ``<`` are escaped wherever they are, so backtick fences, tables and HTML cannot start.)
_BLOCK_STARTS = frozenset("#-+*=_~[")
_ORDERED_ITEM = re.compile(r"^([0-9]{1,9})([.)])")


def _inert_line(line: str) -> str:
    line = line.strip()
    if not line:
        return ""
    if line[0] in _BLOCK_STARTS:
        return "\\" + line
    return _ORDERED_ITEM.sub(r"\1\\\2", line)


def _clean_controls(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return "".join(ch for ch in text if ch == "\n" or not _is_control(ch))


def _is_control(ch: str) -> bool:
    code = ord(ch)
    # C0/C1 controls and the bidirectional overrides that can disguise what a line says.
    return code < 32 or 127 <= code < 160 or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069


def _squeeze_blank_lines(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text)
