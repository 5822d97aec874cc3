"""Read models of the status page: filtering, sorting, paging and counting done in SQL.

The cycle reads the whole board into memory because it must decide for every lead; a page
shows fifty. So the page's questions (leads matching a search, a stage, "needs a person", a
hub state; counts per stage; the ledger of one page of leads) are each one SQL statement over
the store's tables, portable between SQLite and PostgreSQL, and none loads every lead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    and_,
    case,
    exists,
    false,
    func,
    not_,
    or_,
    select,
)

from leadbridge.adapters.store import schema
from leadbridge.domain.ledger import QUIET, EffectState, LedgerEntry

#: Ledger states that wait for a person (waiting: for a link only staff can paste).
PROBLEM_STATES = (EffectState.PARKED.value, EffectState.FAILED.value, EffectState.WAITING.value)
#: Hub states the leads table filters by.
HUB_STATES = ("open", "closed", "none")
_CHUNK = 500


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything in leadbridge is UTC-aware."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LeadRow:
    item_id: str
    name: str
    url: str
    values: Mapping[str, Any]
    present: bool
    seen_at: datetime | None

    def value(self, column: str) -> str:
        found = self.values.get(column, "")
        return found if isinstance(found, str) else str(found or "")


@dataclass(frozen=True)
class LeadQuery:
    """What the leads table asks for; every field comes from the request, already checked."""

    text: str = ""
    #: (status column, label); an empty label means the column is empty.
    stage: tuple[str, str] | None = None
    needs_person: bool = False
    #: Items the mass-action guard holds: they need a person too.
    held_items: frozenset[str] = frozenset()
    #: "", "open", "closed" or "none".
    hub: str = ""
    hub_effects: tuple[str, ...] = ()
    #: "name", "item", "problems" or a status column (sorted by pipeline position).
    sort: str = "name"
    descending: bool = False
    offset: int = 0
    limit: int = 50
    #: Labels of each status column in pipeline order, for sorting by stage.
    status_labels: Mapping[str, Sequence[str]] = field(default_factory=dict)


def _value(column: str) -> ColumnElement[str]:
    return schema.items.c.item_values[column].as_string()


def ledger_entry(row: Any) -> LedgerEntry:
    """A ledger row as the core knows it (also used by the store's own ``ledger()``)."""
    return LedgerEntry(
        item_id=row.item_id,
        effect=row.effect,
        state=EffectState(row.state),
        attempts=row.attempts,
        next_attempt_at=as_utc(row.next_attempt_at),
        last_error=row.last_error,
        ref=dict(row.ref or {}),
        updated_at=as_utc(row.updated_at),
        epoch=row.epoch,
        owner=row.owner,
    )


def _lead(row: Any) -> LeadRow:
    return LeadRow(
        row.item_id,
        row.name,
        row.url or "",
        dict(row.item_values or {}),
        bool(row.present),
        as_utc(row.seen_at),
    )


def chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    """``values`` in slices small enough for one IN list (SQLite caps bound parameters)."""
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class StatusQueries:
    """The status page's questions to the state database (read only)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------ leads

    def _problem_row(self) -> ColumnElement[bool]:
        """A ledger row of this item that needs a person (a quiet wait does not yet)."""
        ledger, items = schema.ledger, schema.items
        quiet = and_(
            ledger.c.state == EffectState.WAITING.value,
            func.coalesce(ledger.c.ref[QUIET].as_boolean(), False).is_(True),
        )
        return and_(
            ledger.c.item_id == items.c.item_id,
            ledger.c.state.in_(PROBLEM_STATES),
            not_(quiet),
        )

    def _problems(self) -> ColumnElement[bool]:
        return exists(select(schema.ledger.c.item_id).where(self._problem_row()))

    def _hub(self, state: str, effects: Sequence[str]) -> ColumnElement[bool]:
        ledger, items = schema.ledger, schema.items
        if not effects:
            return false() if state != "none" else not_(false())
        done = and_(
            ledger.c.item_id == items.c.item_id,
            ledger.c.effect.in_(list(effects)),
            ledger.c.state == EffectState.DONE.value,
        )
        if state == "none":
            return not_(exists(select(ledger.c.item_id).where(done)))
        return exists(
            select(ledger.c.item_id).where(and_(done, ledger.c.ref["state"].as_string() == state))
        )

    def _conditions(self, query: LeadQuery) -> list[ColumnElement[bool]]:
        items = schema.items
        conditions: list[ColumnElement[bool]] = [items.c.present.is_(True)]
        text = query.text.strip()
        if text:
            conditions.append(
                or_(items.c.name.icontains(text, autoescape=True), items.c.item_id == text)
            )
        if query.stage is not None:
            column, label = query.stage
            value = _value(column)
            conditions.append(or_(value.is_(None), value == "") if not label else value == label)
        if query.needs_person:
            person = self._problems()
            if query.held_items:
                person = or_(person, items.c.item_id.in_(sorted(query.held_items)))
            conditions.append(person)
        if query.hub in HUB_STATES:
            conditions.append(self._hub(query.hub, query.hub_effects))
        return conditions

    def _order(self, query: LeadQuery) -> list[Any]:
        items = schema.items
        keys: list[Any]
        if query.sort == "item":
            keys = [func.length(items.c.item_id), items.c.item_id]
        elif query.sort == "problems":
            problems = select(func.count()).where(self._problem_row()).scalar_subquery()
            keys = [problems]
        elif query.sort in query.status_labels:
            labels = query.status_labels[query.sort]
            position = case(
                {label: index for index, label in enumerate(labels)},
                value=_value(query.sort),
                else_=-1,
            )
            keys = [position]
        else:
            keys = [func.lower(items.c.name)]
        ordered = [key.desc() if query.descending else key.asc() for key in keys]
        # A stable order under equal keys, so pages neither repeat nor skip a lead.
        return [*ordered, items.c.name, items.c.item_id]

    def leads(self, query: LeadQuery) -> tuple[list[LeadRow], int]:
        """One page of the matching leads, and how many match in all."""
        items = schema.items
        conditions = self._conditions(query)
        page = (
            select(items)
            .where(and_(*conditions))
            .order_by(*self._order(query))
            .offset(max(query.offset, 0))
            .limit(max(query.limit, 1))
        )
        total = select(func.count()).select_from(items).where(and_(*conditions))
        with self.engine.connect() as connection:
            rows = connection.execute(page).all()
            count = connection.execute(total).scalar_one()
        return [_lead(row) for row in rows], int(count)

    def lead(self, item_id: str) -> LeadRow | None:
        """One item as last read, present on the board or not."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(schema.items).where(schema.items.c.item_id == item_id)
            ).first()
        return None if row is None else _lead(row)

    def stage_counts(self, columns: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per status column, how many present leads show each label ("" for empty)."""
        items = schema.items
        counts: dict[str, dict[str, int]] = {}
        with self.engine.connect() as connection:
            for column in columns:
                value = _value(column)
                rows = connection.execute(
                    select(value, func.count()).where(items.c.present.is_(True)).group_by(value)
                ).all()
                found: dict[str, int] = {}
                for label, count in rows:
                    key = label or ""
                    found[key] = found.get(key, 0) + int(count)
                counts[column] = found
        return counts

    def lead_count(self) -> int:
        items = schema.items
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count()).select_from(items).where(items.c.present.is_(True))
                ).scalar_one()
            )

    # ------------------------------------------------------------ the ledger

    def state_counts(self) -> dict[str, int]:
        """Effects per ledger state, over leads present on the board."""
        ledger, items = schema.ledger, schema.items
        query = (
            select(ledger.c.state, func.count())
            .select_from(ledger.join(items, items.c.item_id == ledger.c.item_id))
            .where(items.c.present.is_(True))
            .group_by(ledger.c.state)
        )
        with self.engine.connect() as connection:
            return {state: int(count) for state, count in connection.execute(query).all()}

    def ledger_of(self, item_ids: Sequence[str]) -> dict[str, list[LedgerEntry]]:
        """The ledger rows of these items, by item."""
        ledger = schema.ledger
        found: dict[str, list[LedgerEntry]] = {item_id: [] for item_id in item_ids}
        with self.engine.connect() as connection:
            for chunk in chunks(list(item_ids)):
                rows = connection.execute(
                    select(ledger).where(ledger.c.item_id.in_(list(chunk)))
                ).all()
                for row in rows:
                    found.setdefault(row.item_id, []).append(ledger_entry(row))
        return found

    def entries(
        self, states: Sequence[str], effects: Sequence[str] | None = None
    ) -> list[LedgerEntry]:
        """Ledger rows in these states (of these effects), oldest change first."""
        ledger = schema.ledger
        conditions = [ledger.c.state.in_(list(states))]
        if effects is not None:
            conditions.append(ledger.c.effect.in_(list(effects)))
        query = select(ledger).where(and_(*conditions)).order_by(ledger.c.updated_at)
        with self.engine.connect() as connection:
            return [ledger_entry(row) for row in connection.execute(query).all()]

    def names(self, item_ids: Sequence[str]) -> dict[str, str]:
        items = schema.items
        found: dict[str, str] = {}
        with self.engine.connect() as connection:
            for chunk in chunks(list(item_ids)):
                rows = connection.execute(
                    select(items.c.item_id, items.c.name).where(items.c.item_id.in_(list(chunk)))
                ).all()
                found.update({item_id: name for item_id, name in rows})
        return found

    # ------------------------------------------------------------ customers

    def customers(
        self, column: str, labels: Sequence[str], hub_effects: Sequence[str]
    ) -> list[LeadRow]:
        """Leads present whose ``column`` reached one of ``labels``, or with a hub effect."""
        items, ledger = schema.items, schema.ledger
        reached: list[ColumnElement[bool]] = []
        if labels:
            reached.append(_value(column).in_(list(labels)))
        if hub_effects:
            reached.append(
                exists(
                    select(ledger.c.item_id).where(
                        and_(
                            ledger.c.item_id == items.c.item_id,
                            ledger.c.effect.in_(list(hub_effects)),
                        )
                    )
                )
            )
        if not reached:
            return []
        query = (
            select(items)
            .where(and_(items.c.present.is_(True), or_(*reached)))
            .order_by(func.lower(items.c.name), items.c.item_id)
        )
        with self.engine.connect() as connection:
            return [_lead(row) for row in connection.execute(query).all()]
