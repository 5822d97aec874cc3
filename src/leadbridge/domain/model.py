"""The vocabulary of the core: leads, the status model, rules and effect specifications.

Everything here is immutable and free of I/O so that planning can be tested exhaustively and
replayed from a snapshot of the board.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Lead:
    """One item of the board, as leadbridge understands it.

    ``values`` is keyed by *logical* column name (the names in the configuration), never by
    monday column id, so the core is independent of how a board happens to be laid out.
    Status columns hold their label text; an empty column is absent or ``""``.
    """

    item_id: str
    name: str
    values: Mapping[str, str] = field(default_factory=dict)
    url: str = ""

    def value(self, column: str) -> str:
        return self.values.get(column, "") or ""


@dataclass(frozen=True)
class StatusColumn:
    """A status column with its labels in pipeline order.

    ``off_path`` labels exist on the board (e.g. "Out of Scope") but imply no effect at all:
    they are neither before nor after any label on the path.

    ``requests`` are action labels ("Send Questionnaire", "Create Quote"): labels that ask
    for work rather than record it. A lead met standing on one is a pending request, never
    history (see ``Situation.adopts``).
    """

    name: str
    labels: tuple[str, ...]
    off_path: tuple[str, ...] = ()
    requests: tuple[str, ...] = ()

    def position(self, label: str) -> int | None:
        """Index of ``label`` on the path, or None when empty, off path or unknown."""
        try:
            return self.labels.index(label)
        except ValueError:
            return None

    def knows(self, label: str) -> bool:
        return label in self.labels or label in self.off_path


@dataclass(frozen=True)
class Rule:
    """When ``column`` is at ``label`` (or any later label, unless ``exactly``) → ``effects``."""

    column: str
    label: str
    effects: tuple[str, ...]
    exactly: bool = False

    def matches(self, lead: Lead, columns: Mapping[str, StatusColumn]) -> bool:
        status = columns[self.column]
        current = lead.value(self.column)
        if self.exactly:
            return current == self.label
        here = status.position(current)
        trigger = status.position(self.label)
        return here is not None and trigger is not None and here >= trigger


@dataclass(frozen=True)
class EffectSpec:
    """One configured effect: what kind of work, which effects it waits for, and its settings.

    ``params`` is the kind-specific configuration; the core only routes it to the handler.
    """

    name: str
    kind: str
    needs: tuple[str, ...] = ()
    params: Any = None


@dataclass(frozen=True)
class Pipeline:
    """The whole board model: status columns, effects and the rules that require them."""

    statuses: Mapping[str, StatusColumn]
    effects: Mapping[str, EffectSpec]
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class LinkValue:
    url: str
    text: str


@dataclass(frozen=True)
class StatusValue:
    label: str


@dataclass(frozen=True)
class TextValue:
    text: str


ColumnValue = LinkValue | StatusValue | TextValue


def rendered(value: ColumnValue) -> str:
    """The text a column shows once ``value`` is written: what a later read returns for it."""
    if isinstance(value, LinkValue):
        return value.url
    if isinstance(value, StatusValue):
        return value.label
    return value.text
