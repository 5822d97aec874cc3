"""The decision function on its own: lead + ledger + pipeline + time → what happens to each effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadbridge.domain.decide import Act, Decision, Situation, decide
from leadbridge.domain.ledger import EffectState, LedgerEntry
from leadbridge.domain.model import EffectSpec, Lead, Pipeline, Rule, StatusColumn
from leadbridge.domain.planning import dependency_order

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

PIPELINE = Pipeline(
    statuses={"stage": StatusColumn("stage", ("Ask", "Folder", "Quote", "Signed"), ("Lost",))},
    effects={
        "ask": EffectSpec("ask", "email"),
        "folder": EffectSpec("folder", "drive_folder"),
        "copies": EffectSpec("copies", "drive_copies", needs=("folder",)),
        "mail": EffectSpec("mail", "email", needs=("copies",)),
    },
    rules=(
        Rule("stage", "Ask", ("ask",), exactly=True),
        Rule("stage", "Folder", ("folder",)),
        Rule("stage", "Quote", ("copies",)),
        Rule("stage", "Signed", ("mail",)),
    ),
)
ORDER = dependency_order(PIPELINE.effects)


def at(label: str) -> Lead:
    return Lead("1", "Lead", {"stage": label})


def row(effect: str, state: EffectState, **changes: object) -> LedgerEntry:
    return LedgerEntry("1", effect, state, **changes)  # type: ignore[arg-type]


def decided(lead: Lead, *entries: LedgerEntry, **situation: object) -> list[Decision]:
    ledger = {e.effect: e for e in entries}
    return decide(lead, ledger, PIPELINE, ORDER, Situation(NOW, **situation))  # type: ignore[arg-type]


def test_a_lead_that_jumped_statuses_runs_everything_in_dependency_order() -> None:
    assert decided(at("Signed")) == [
        Decision("folder", Act.RUN),
        Decision("copies", Act.RUN, after=("folder",)),
        Decision("mail", Act.RUN, after=("copies",)),
    ]


def test_settled_effects_are_left_out_and_their_dependants_run() -> None:
    folder = row("folder", EffectState.DONE)
    assert decided(at("Quote"), folder) == [Decision("copies", Act.RUN)]
    adopted = row("folder", EffectState.ADOPTED)
    assert decided(at("Quote"), adopted) == [Decision("copies", Act.RUN)]


def test_a_parked_need_makes_its_dependants_wait_and_the_parked_one_is_not_run() -> None:
    parked = row("folder", EffectState.PARKED, attempts=8)
    assert decided(at("Signed"), parked) == [
        Decision("copies", Act.WAIT, waiting_for=("folder",)),
        Decision("mail", Act.WAIT, waiting_for=("copies",)),
    ]


def test_a_backing_off_effect_runs_only_when_due() -> None:
    later = row(
        "folder", EffectState.FAILED, attempts=1, next_attempt_at=NOW + timedelta(minutes=1)
    )
    assert decided(at("Folder"), later) == []
    due = row("folder", EffectState.FAILED, attempts=1, next_attempt_at=NOW)
    assert decided(at("Folder"), due) == [Decision("folder", Act.RUN)]


def test_an_interrupted_effect_is_resumed() -> None:
    running = row("folder", EffectState.RUNNING, attempts=1)
    assert decided(at("Folder"), running) == [Decision("folder", Act.RUN)]


def test_the_first_meeting_adopts_what_was_never_started_and_finishes_what_was() -> None:
    assert decided(at("Quote"), adopting=True) == [
        Decision("folder", Act.ADOPT),
        Decision("copies", Act.ADOPT),
    ]
    begun = row("folder", EffectState.RUNNING, attempts=1)
    assert decided(at("Quote"), begun, adopting=True) == [
        Decision("folder", Act.RUN),
        Decision("copies", Act.ADOPT),
    ]


def test_backfill_re_arms_adopted_effects_the_lead_requires() -> None:
    folder = row("folder", EffectState.ADOPTED)
    copies = row("copies", EffectState.ADOPTED)
    everything = frozenset(PIPELINE.effects)
    assert decided(at("Quote"), folder, copies, backfill=everything) == [
        Decision("folder", Act.RUN, rearm=True),
        Decision("copies", Act.RUN, rearm=True, after=("folder",)),
    ]


def test_a_lead_moved_away_skips_what_is_pending_or_backing_off_only() -> None:
    pending = row("copies", EffectState.PENDING)
    failed = row("mail", EffectState.FAILED, attempts=2, next_attempt_at=NOW)
    done = row("folder", EffectState.DONE)
    parked = row("ask", EffectState.PARKED)
    result = decided(at("Lost"), pending, failed, done, parked)
    assert result == [Decision("copies", Act.SKIP), Decision("mail", Act.SKIP)]


def test_a_skipped_effect_is_re_armed_when_the_lead_comes_back() -> None:
    folder = row("folder", EffectState.DONE)
    skipped = row("copies", EffectState.SKIPPED)
    assert decided(at("Quote"), folder, skipped) == [Decision("copies", Act.RUN, rearm=True)]


@pytest.mark.parametrize("label", ["Folder", "Quote", "Signed", "Lost", ""])
def test_an_exactly_rule_holds_only_on_its_label(label: str) -> None:
    assert "ask" not in {d.effect for d in decided(at(label))}
    assert [d.effect for d in decided(at("Ask"))] == ["ask"]
