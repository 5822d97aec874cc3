"""A sync service wired to the in-memory fakes, a real state store and a hand-moved clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.bootstrap import Adapters, build_sync_service
from leadbridge.domain.ledger import EffectState, LedgerEntry
from leadbridge.domain.model import Lead
from leadbridge.service.sync import CycleReport, SyncService
from leadbridge.settings import Settings
from tests.fakes import FakeBoard, FakeDrive, FakeIssueTracker, FakeMailer

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def lead(item_id: str, name: str = "", **values: str) -> Lead:
    defaults = {
        "contact_name": "Ada Lovelace",
        "contact_email": f"ada{item_id}@uni.example.edu",
        "organization": f"Org {item_id}",
    }
    return Lead(
        item_id, name or f"Lead {item_id}", {**defaults, **values}, f"https://board/{item_id}"
    )


class _AskedFor(dict[str, Any]):
    """The port adapters, noting each port an effect asks for: with the real wiring, asking
    builds the adapter and imports its SDK."""

    def __init__(self, adapters: dict[str, Any], asked: list[str]) -> None:
        super().__init__(adapters)
        self._asked = asked

    def __getitem__(self, name: str) -> Any:
        self._asked.append(name)
        return super().__getitem__(name)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[name]
        except KeyError:
            return default


@dataclass
class Harness:
    settings: Settings
    store: SqlStateStore
    board: FakeBoard = field(default_factory=FakeBoard)
    drive: FakeDrive = field(default_factory=FakeDrive)
    mailer: FakeMailer = field(default_factory=FakeMailer)
    issues: FakeIssueTracker = field(default_factory=FakeIssueTracker)
    now: datetime = START
    #: Adapters of ports beyond the built-in ones (a kind declared by a test), by port name.
    extra_ports: dict[str, Any] = field(default_factory=dict)
    #: Every port an effect asked for, in order, one entry per ask.
    ports_asked: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.drive.add_template(
            "1PricingSheetTemplateId", "Pricing", "application/vnd.google-apps.spreadsheet"
        )
        self.drive.add_template(
            "1PriceQuoteTemplateId", "Quote", "application/vnd.google-apps.document"
        )

    def service(
        self,
        *,
        backfill: bool = False,
        backfill_effects: frozenset[str] = frozenset(),
        adopt_existing: bool = False,
    ) -> SyncService:
        ports = {"drive": self.drive, "mailer": self.mailer, "issues": self.issues}
        ports.update(self.extra_ports)
        return build_sync_service(
            self.settings,
            adapters=Adapters(self.board, _AskedFor(ports, self.ports_asked)),
            store=self.store,
            now=lambda: self.now,
            backfill=backfill,
            backfill_effects=backfill_effects,
            adopt_existing=adopt_existing,
        )

    def cycle(self, *, backfill: bool = False) -> CycleReport:
        return self.service(backfill=backfill).run_cycle()

    def preview(self, *, backfill: bool = False) -> CycleReport:
        return self.service(backfill=backfill).preview()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def start_empty(self) -> None:
        """A first cycle on an empty board, so later leads are new and acted on."""
        self.cycle()

    def entry(self, item_id: str, effect: str) -> LedgerEntry:
        return {e.effect: e for e in self.store.ledger(item_id)}[effect]

    def states(self, item_id: str) -> dict[str, EffectState]:
        return {e.effect: e.state for e in self.store.ledger(item_id)}
