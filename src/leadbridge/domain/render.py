"""Filling configured templates with lead fields.

Lead fields are typed by people, so everything rendered here is treated as data: the template
is the only source of structure, and a value can never add placeholders, lines to a header or
formulas to a sheet.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import date

from leadbridge.domain.model import Lead

_MAX_SINGLE_LINE = 900


def template_context(
    lead: Lead, links: Mapping[str, str], today: date, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every placeholder a template may use: columns, built-ins and ``<link>_url``."""
    context = {column: value for column, value in lead.values.items()}
    context.update(name=lead.name, item_id=lead.item_id, item_url=lead.url, date=today.isoformat())
    context.update({f"{name}_url": url for name, url in links.items()})
    if extra:
        context.update(extra)
    return context


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, context: Mapping[str, str]) -> str:
    """``str.format`` semantics; unknown names are caught when the config is loaded.

    Values are substituted once and never re-parsed, so a lead named ``{item_id}`` stays
    literally that.
    """
    return string.Formatter().vformat(template, (), _Blank(context))


def in_words(name: str) -> str:
    """A configuration name as people say it (``lead_folder`` → ``lead folder``): notes on the
    board are read by staff, who know column titles and stages, not the file's keys."""
    return name.replace("_", " ")


def column_in_words(column: str) -> str:
    """``the column “lead folder”``, for a note that asks staff to fill a column in."""
    return f"the column “{in_words(column)}”"


def single_line(text: str, limit: int = _MAX_SINGLE_LINE) -> str:
    """For e-mail subjects, file names and titles: CR, LF and other controls become spaces.

    We chose to clean rather than refuse: the lead's name is still recognisable, and the
    e-mail library's own refusal of CR/LF in headers remains as a second line of defence.
    """
    cleaned = "".join(
        " " if (ch in "\r\n\t\v\f" or ord(ch) < 32 or ord(ch) == 127) else ch for ch in text
    )
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
