"""The "new hub" issue engineers receive: its title and a Markdown body they can trust.

The body follows the pilot-hubs ``new-hub.md`` template of the handbook's time (Background;
Setup Information; Important Information; Deploy To Do), because that is the form the engineers
already work from, and the API applies no template to issues it creates.

Everything a lead's columns contribute is typed by sales staff or copied from a customer's
e-mail, so it is made inert before it reaches Markdown: it cannot mention (and so notify)
anyone, cannot open HTML or a comment (and so cannot plant a second ``leadbridge`` marker or
hide the rest of the body), cannot start a heading, list, table or code block that would bend
the sections around it, and cannot push the body past GitHub's size limit.

The issue goes to a public repository, so unless the effect says ``personal_data: true`` the
e-mail addresses and phone numbers found in what the lead contributes (its name and columns,
free text included) are replaced by a visible placeholder. Dates, URLs, version numbers and
amounts of money are left as they are (see ``remove_contact_details``).
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
    personal_data: bool = False,
) -> tuple[str, str]:
    """Title and body of the hub issue for ``lead``; the body ends with its hidden marker.

    ``fields`` maps the label shown in the issue to a column name; a label that is one of the
    handbook template's own (``Background``, ``Hub url``, ``Community champion``, …; case,
    spaces and underscores do not matter) fills that place, any other label is added under
    Important Information. ``context`` is ``template_context()``; its ``item_url`` is the link
    back to the lead and ``folder_url``, when present, the lead's Drive folder. A custom
    ``body_template`` is rendered like any other template, with every value made inert.
    Unless ``personal_data``, the lead's values (its name and columns) have their e-mail
    addresses and phone numbers replaced first.
    """
    context = {**lead.values, **context}
    if not personal_data:
        from_lead = {"name", *lead.values}
        context = {
            key: remove_contact_details(text) if key in from_lead else text
            for key, text in context.items()
        }
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


def remove_contact_details(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers replaced by a visible placeholder.

    A phone number is 7 to 15 digits in groups separated by one space, hyphen, dot or slash,
    with an optional ``+`` and parenthesised groups (``+1 (510) 555-0123``, ``020 7946 0958``,
    ``030/1234567``, ``01 23 45 67 89``). Left alone: dates (``2026-05-01``, ``01.05.2026``,
    ``2024-2025``) and times; digits inside words, URLs, paths and versions (``v4.1.5``,
    ``10.0.19041.1``, IP addresses: dotted numbers count only as ``510.555.0123``); amounts of
    money (a currency sign or code next to it, thousands groups ``1 500 000``, round ranges
    ``1000-5000``); and unformatted numbers shorter than a full national number (10 digits)
    unless they start with ``+``. A number in thousands groups is taken for an amount, so a
    phone written ``612 345 678`` without its country code is missed.
    """
    text = _EMAIL.sub(EMAIL_REMOVED, text)
    return _NUMBER.sub(_phone_removed, text)


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
        text = context.get(column, "")
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


# ---------------------------------------------------------------- contact details

EMAIL_REMOVED = "[e-mail address removed]"
PHONE_REMOVED = "[phone number removed]"

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@(?:[^\W_][\w-]*\.)+[^\W\d_]{2,}")

_DAY = r"(?:[12][0-9]|3[01]|0?[1-9])"
#: ISO and day/month (or month/day) dates, and year ranges, as whole numbers only.
_DATE = (
    rf"(?:[0-9]{{4}}[-./]{_DAY}[-./]{_DAY}"
    rf"|{_DAY}[-./]{_DAY}[-./](?:[0-9]{{4}}|[0-9]{{2}})"
    r"|(?:19|20)[0-9]{2}[-/](?:(?:19|20)[0-9]{2}|[0-9]{2}))"
    r"(?![-./]?[0-9])"
)
_GROUP = r"(?:\([0-9]{1,5}\)|[0-9]+)"
#: One space, hyphen, dot or slash between groups; none next to a parenthesised group.
_SEPARATOR = r"(?:[-./ \u00a0]|(?<=\))|(?=\())"
#: A run of digit groups that starts a token (not inside a word, URL, path, version or
#: amount) and never runs on into a date. Possessive, and its end is checked afterwards, so
#: a run is read once: no backtracking over long digit sequences.
_NUMBER = re.compile(
    r"(?<![\w@#$€£¥%&*+/.,=?\\~^'-])"
    rf"(?:(?P<date>{_DATE})|\+?{_GROUP}(?:{_SEPARATOR}(?!{_DATE}){_GROUP})*+)"
)
_CURRENCY = r"(?:[$€£¥₹]|USD|EUR|GBP|CHF|CAD|AUD|NZD|JPY|INR|dollars?|euros?|pounds?)"
_CURRENCY_BEFORE = re.compile(rf"(?:^|[^\w]){_CURRENCY}[ \u00a0]?$", re.IGNORECASE)
_CURRENCY_AFTER = re.compile(rf"^[ \u00a0]?{_CURRENCY}(?!\w)", re.IGNORECASE)
_THOUSANDS = re.compile(r"[1-9][0-9]{0,2}([ \u00a0']|\.)[0-9]{3}(?:\1[0-9]{3})*")
_ROUND_RANGE = re.compile(r"[1-9][0-9]*0-[1-9][0-9]*0")
_DOTTED_PHONE = re.compile(r"[0-9]{3}\.[0-9]{3}\.[0-9]{4}")
_YEAR = re.compile(r"(?:19|20)[0-9]{2}")
#: E.164 allows 15 digits; the shortest local numbers still in use have 7.
_MIN_PHONE_DIGITS, _MAX_PHONE_DIGITS = 7, 15
_MAX_CHUNKS = 64


def _phone_removed(match: re.Match[str]) -> str:
    run, text, start = match.group(), match.string, match.start()
    if match.group("date") is not None:
        return run
    if _is_phone(run, text, start, match.end()):
        return PHONE_REMOVED
    if _digits(run) <= _MAX_PHONE_DIGITS:
        return run
    return _phones_in_a_row(run, text, start)


def _phones_in_a_row(run: str, text: str, start: int) -> str:
    """Numbers written one after another (``+15105550123 020 7946 0958``) make one run too
    long for a phone: take the longest phone from the left, again after it, and so on."""
    chunks = [(m.start(), m.end()) for m in re.finditer(r"[^ \u00a0]+", run)]
    if len(chunks) > _MAX_CHUNKS:
        return run  # a table of numbers, not numbers in prose
    shown, done, i = [], 0, 0
    while i < len(chunks):
        for j in range(min(len(chunks), i + _MAX_PHONE_DIGITS) - 1, i - 1, -1):
            first, last = chunks[i][0], chunks[j][1]
            if _is_phone(run[first:last], text, start + first, start + last):
                shown += [run[done:first], PHONE_REMOVED]
                done, i = last, j + 1
                break
        else:
            i += 1
    return "".join([*shown, run[done:]])


def _is_phone(run: str, text: str, start: int, end: int) -> bool:
    digits = _digits(run)
    if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS:
        return False
    if text[end : end + 1].isalnum() or text[end : end + 1] in ("_", "@"):
        return False  # runs into a word: a code, an identifier
    if _CURRENCY_BEFORE.search(text[max(0, start - 10) : start]):
        return False
    if _CURRENCY_AFTER.match(text[end : end + 10]):
        return False
    if run.startswith("+"):
        return True
    if run.isdigit():
        return digits >= 10
    if "." in run and not _DOTTED_PHONE.fullmatch(run):
        return False
    groups = re.findall(r"[0-9]+", run)
    if all(_YEAR.fullmatch(group) for group in groups):
        return False  # 2019 2020 2021
    if max(map(len, groups)) <= 2 and not run.startswith("0"):
        return False  # 1 2 3 4 5 6 7, 30 45 60 90 (but 01 23 45 67 89 is a phone)
    return not (_THOUSANDS.fullmatch(run) or _ROUND_RANGE.fullmatch(run))


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


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
