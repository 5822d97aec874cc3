"""``build_status`` puts each effect under its own lead, and reads the ledger a fixed number of
times however many leads there are (it once filtered the whole ledger for every lead)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.ledger import EffectState, LedgerEntry
from leadbridge.domain.model import Lead
from leadbridge.domain.planning import dependency_order
from leadbridge.domain.ports import BoardState, RunRecord
from leadbridge.service.status import build_status
from leadbridge.settings import Settings

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
EFFECTS = ("lead_folder", "quote_copies", "icsi_notice", "hub_issue")
STATES = list(EffectState)


class CountingLedger(list[LedgerEntry]):
    """A ledger that counts how often it is walked and how many entries are looked at."""

    def __init__(self, entries: list[LedgerEntry]) -> None:
        super().__init__(entries)
        self.walks = 0
        self.visits = 0

    def __iter__(self) -> Iterator[LedgerEntry]:
        self.walks += 1
        for entry in super().__iter__():
            self.visits += 1
            yield entry

    def __getitem__(self, index: Any) -> Any:
        self.visits += 1
        return super().__getitem__(index)


class FakeStore:
    """Just the reads ``build_status`` makes."""

    def __init__(self, leads: list[Lead], ledger: list[LedgerEntry]) -> None:
        self.leads = {lead.item_id: lead for lead in leads}
        self.entries = CountingLedger(ledger)

    def snapshots(self) -> dict[str, Lead]:
        return dict(self.leads)

    def ledger(self, item_id: str | None = None) -> list[LedgerEntry]:
        assert item_id is None, "build_status reads the whole ledger once"
        return self.entries

    def runs(self, limit: int = 10) -> list[RunRecord]:
        return [RunRecord(1, NOW - timedelta(minutes=3), NOW, "ok", {"done": 2})][:limit]

    def usage(self, day: date, service: str) -> tuple[int, int]:
        return (42, 9000) if service == "monday" else (0, 0)

    def board_state(self) -> BoardState:
        return BoardState("1234567890", NOW - timedelta(days=1), last_full_read_at=NOW)

    def fact(self, name: str) -> None:
        return None


def item_id(n: int) -> str:
    return f"{9_000_000 + n}"


def make_board(count: int, *, seed: int = 7) -> tuple[list[Lead], list[LedgerEntry]]:
    """``count`` leads with 0-4 effects each, plus entries of two items no longer on the board,
    the ledger shuffled so that no item's entries are next to each other."""
    rng = random.Random(seed)
    leads = [
        Lead(
            item_id(n),
            f"Lead {n}",
            {"triage_status": "In Scope", "negotiation_status": "Quote Sent" if n % 2 else ""},
        )
        for n in range(count)
    ]
    ledger = []
    for n in [*range(count), count + 1, count + 2]:
        for effect in EFFECTS[: n % (len(EFFECTS) + 1)]:
            state = rng.choice(STATES)
            ref: dict[str, Any] = {"url": f"https://example.org/{item_id(n)}/{effect}"}
            if effect == "hub_issue":
                ref.update(number=n, state="open")
            ledger.append(
                LedgerEntry(
                    item_id(n),
                    effect,
                    state,
                    attempts=n % 3,
                    next_attempt_at=NOW + timedelta(minutes=n)
                    if state is EffectState.FAILED
                    else None,
                    last_error=f"error of {item_id(n)}" if state is EffectState.PARKED else "",
                    ref=ref,
                )
            )
    rng.shuffle(ledger)
    return leads, ledger


def pipeline_order(settings: Settings) -> dict[str, int]:
    return {name: i for i, name in enumerate(dependency_order(settings.pipeline().effects))}


def assert_grouped(
    status: dict[str, Any], leads: list[Lead], ledger: list[LedgerEntry], order: dict[str, int]
) -> None:
    """Each lead lists exactly its own entries, in pipeline order (effects no longer
    configured last, by name)."""
    assert [lead["item_id"] for lead in status["leads"]] == sorted(lead.item_id for lead in leads)
    for shown in status["leads"]:
        own = sorted(
            (e for e in list.__iter__(ledger) if e.item_id == shown["item_id"]),
            key=lambda e: (order.get(e.effect, len(order)), e.effect),
        )
        assert [(e["effect"], e["state"], e["url"]) for e in shown["effects"]] == [
            (e.effect, e.state.value, e.ref.get("url", "")) for e in own
        ]
        for effect in shown["effects"]:
            assert f"/{shown['item_id']}/" in effect["url"], "an effect landed under another lead"
    shown_ids = {lead["item_id"] for lead in status["leads"]}
    assert item_id(len(leads) + 1) not in shown_ids  # gone from the board: counted, not listed
    totals: dict[str, int] = {}
    for entry in list.__iter__(ledger):
        totals[entry.state.value] = totals.get(entry.state.value, 0) + 1
    assert status["totals"] == totals


def test_effects_land_under_their_own_lead(example_settings: Settings) -> None:
    leads, ledger = make_board(60)
    store = FakeStore(leads, ledger)

    status = build_status(example_settings, store, NOW)  # type: ignore[arg-type]

    assert_grouped(status, leads, store.entries, pipeline_order(example_settings))
    lead_9 = next(lead for lead in status["leads"] if lead["item_id"] == item_id(9))
    assert lead_9["name"] == "Lead 9"
    assert lead_9["statuses"] == {"triage_status": "In Scope", "negotiation_status": "Quote Sent"}
    assert sorted(e["effect"] for e in lead_9["effects"]) == sorted(EFFECTS)
    hub = next(e for e in ledger if (e.item_id, e.effect) == (item_id(9), "hub_issue"))
    assert next(e for e in lead_9["effects"] if e["effect"] == "hub_issue") == {
        "effect": "hub_issue",
        "state": hub.state.value,
        "attempts": 0,
        "updated_at": None,
        "next_attempt_at": hub.next_attempt_at,
        "last_error": hub.last_error,
        "url": f"https://example.org/{item_id(9)}/hub_issue",
        "issue_state": "open",
    }
    lead_0 = next(lead for lead in status["leads"] if lead["item_id"] == item_id(0))
    assert lead_0["effects"] == []
    assert status["monday_calls_today"] == 42
    assert status["runs"][0]["done"] == 2


@pytest.mark.parametrize("count", [10, 100, 1000])
def test_the_ledger_is_read_a_fixed_number_of_times(example_settings: Settings, count: int) -> None:
    leads, ledger = make_board(count)
    store = FakeStore(leads, ledger)

    status = build_status(example_settings, store, NOW)  # type: ignore[arg-type]

    assert len(status["leads"]) == count
    # Grouping and totals: two walks, whatever the number of leads (it was count + 1).
    assert store.entries.walks <= 2
    assert store.entries.visits <= 2 * len(ledger)


@pytest.mark.parametrize("state_url", ["sqlite"], indirect=True)
def test_grouping_from_the_sql_store(example_settings: Settings, store: SqlStateStore) -> None:
    leads, ledger = make_board(40, seed=11)
    store.save_snapshots(leads, complete=True)
    for entry in ledger:
        assert store.save_entry(entry, None)

    status = build_status(example_settings, store, NOW)

    stored = store.ledger()
    assert len(stored) == len(ledger)
    assert_grouped(status, leads, stored, pipeline_order(example_settings))
    assert status["board_id"] == "1234567890"
