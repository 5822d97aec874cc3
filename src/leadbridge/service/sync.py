"""One sync cycle: read the board → decide per lead → apply → record.

The cycle is level-triggered: it decides from the stored snapshot of every item, not from
the changes of this poll, so a lead whose effect failed an hour ago, or that moved while
leadbridge was down, is handled without needing a new event. Each lead is applied in
isolation: an exception in one lead's effect is recorded against that effect and the cycle
moves on. A dry run (``preview``) reads the board and prints the same decisions, applying none.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from leadbridge import telemetry
from leadbridge.domain.decide import NO_LONGER_REQUIRED, Act, Decision, Situation, decide
from leadbridge.domain.errors import ExternalError
from leadbridge.domain.ledger import EffectState, LedgerEntry, RetryPolicy
from leadbridge.domain.model import Lead, Pipeline
from leadbridge.domain.planning import dependency_order
from leadbridge.domain.ports import BoardRead, BoardState, StateStore
from leadbridge.domain.render import template_context
from leadbridge.effects.registry import kind_of
from leadbridge.service.apply import EffectRunner, Ports, describe, done_links
from leadbridge.service.report import Action, CycleReport, EffectEnded

log = structlog.get_logger(__name__)

__all__ = ["Action", "CycleReport", "Ports", "SyncOptions", "SyncService", "rearm_effects"]


@dataclass(frozen=True)
class SyncOptions:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    full_reconcile_every: timedelta = timedelta(hours=1)
    #: Notes on items: "all" (done and parked), "failures" (parked only) or "none".
    notes: str = "all"
    backfill: bool = False


@dataclass(frozen=True)
class _Read:
    state: BoardState | None
    read: BoardRead
    full: bool


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SyncService:
    def __init__(
        self,
        *,
        board_id: str,
        pipeline: Pipeline,
        store: StateStore,
        ports: Ports,
        env: Mapping[str, Mapping[str, Any]] | None = None,
        options: SyncOptions = SyncOptions(),
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.board_id = board_id
        self.pipeline = pipeline
        self.store = store
        self.ports = ports
        self.options = options
        self.now = now or _utcnow
        self.order = dependency_order(pipeline.effects)
        self.runner = EffectRunner(pipeline, store, ports, env or {}, options.policy, self.now)
        self._usage_seen = ports.board.usage()

    # ------------------------------------------------------------ a dry run

    def preview(self) -> CycleReport:
        """What a cycle would do now, in the cycle's own words; nothing is written anywhere."""
        report = CycleReport(started_at=self.now())
        log.info("preview_started", backfill=self.options.backfill)
        read = self._read(report)
        if read is not None:
            before = self.store.snapshots()
            report.transitions = self._log_transitions(before, read.read.items)
            leads = _current(before, read.read)
            situation = self._situation(read.state, report.started_at)
            ledger = self._ledger()
            for item_id in sorted(leads, key=_numeric_first):
                lead, entries = leads[item_id], ledger.get(item_id, {})
                decisions = decide(lead, entries, self.pipeline, self.order, situation)
                self._describe(lead, entries, decisions, report)
        self._account_usage(report, record=False)
        report.finished_at = self.now()
        return report

    def _describe(
        self,
        lead: Lead,
        entries: Mapping[str, LedgerEntry],
        decisions: Sequence[Decision],
        report: CycleReport,
    ) -> None:
        context = template_context(lead, done_links(entries), report.started_at.date())
        for decision in decisions:
            name = decision.effect
            if decision.act is Act.ADOPT:
                report.adopted += 1
                line = Action(lead.item_id, lead.name, name, "adopted", self._what(name))
            elif decision.act is Act.WAIT:
                report.waiting += 1
                detail = "waits for " + ", ".join(decision.waiting_for)
                line = Action(lead.item_id, lead.name, name, "waiting", detail)
            elif decision.act is Act.SKIP:
                report.skipped += 1
                line = Action(lead.item_id, lead.name, name, "would skip", NO_LONGER_REQUIRED)
            else:
                detail = describe(self.pipeline, name, context)
                line = Action(lead.item_id, lead.name, name, "would run", detail)
            report.actions.append(line)

    def _what(self, effect: str) -> str:
        return describe(self.pipeline, effect)

    # ------------------------------------------------------------ the cycle

    def run_cycle(
        self, *, stop: threading.Event | None = None, deadline: datetime | None = None
    ) -> CycleReport:
        started = time.monotonic()
        report = CycleReport(started_at=self.now())
        run_id = self.store.start_run(report.started_at)
        log.info("cycle_started", backfill=self.options.backfill)
        try:
            self._cycle(report, stop, deadline)
        finally:
            self._account_usage(report, record=True)
            report.finished_at = self.now()
            outcome = "read_failed" if not report.read_ok else "ok"
            self.store.finish_run(run_id, report.finished_at, outcome, report.summary())
            telemetry.POLL_DURATION.observe(time.monotonic() - started)
            log.info("cycle_finished", outcome=outcome, **report.summary())
        return report

    def _read(self, report: CycleReport) -> _Read | None:
        now = report.started_at
        state = self.store.board_state()
        full = (
            state is None
            or state.watermark is None
            or state.last_full_read_at is None
            or now - state.last_full_read_at >= self.options.full_reconcile_every
        )
        report.full_reconcile = full
        try:
            read = self.ports.board.read_items(None if full or state is None else state.watermark)
        except ExternalError as error:
            report.error = error.describe()
            log.error("board_read_failed", error=report.error)
            return None
        report.read_ok = True
        report.items_read = len(read.items)
        return _Read(state, read, full)

    def _situation(self, state: BoardState | None, now: datetime) -> Situation:
        return Situation(
            now=now,
            adopting=state is None and not self.options.backfill,
            backfill=self.options.backfill,
        )

    def _ledger(self) -> dict[str, dict[str, LedgerEntry]]:
        ledger: dict[str, dict[str, LedgerEntry]] = {}
        for entry in self.store.ledger():
            ledger.setdefault(entry.item_id, {})[entry.effect] = entry
        return ledger

    def _cycle(
        self, report: CycleReport, stop: threading.Event | None, deadline: datetime | None
    ) -> None:
        read = self._read(report)
        if read is None:
            return
        now, state = report.started_at, read.state
        before = self.store.snapshots()
        report.transitions = self._log_transitions(before, read.read.items)
        self.store.save_snapshots(read.read.items, complete=read.read.complete)
        board = BoardState(
            self.board_id,
            first_cycle_at=state.first_cycle_at if state else now,
            watermark=read.read.watermark or (state.watermark if state else None),
            last_full_read_at=now if read.full else (state.last_full_read_at if state else None),
        )
        situation = self._situation(state, now)
        if not situation.adopting:
            # A backfill acts from its first effect on, so the board counts as met at once;
            # an adopting first cycle is recorded only when it has met every lead.
            self.store.save_board_state(board)
        leads = _current(before, read.read)
        ledger = self._ledger()
        for item_id in sorted(leads, key=_numeric_first):
            if _stopped(stop, deadline, self.now()):
                report.interrupted = True
                log.warning("cycle_stopped_early", reason="stop requested or deadline reached")
                break
            entries = ledger.setdefault(item_id, {})
            try:
                decisions = decide(leads[item_id], entries, self.pipeline, self.order, situation)
                self._apply(leads[item_id], entries, decisions, report, stop, deadline)
            except Exception as error:  # one lead must never stop the others
                report.error = f"item {item_id}: unexpected {type(error).__name__}: {error}"
                log.exception("lead_failed", item_id=item_id)
        if situation.adopting and not report.interrupted:
            # Only a first cycle that met every lead ends the first run: if it stopped half
            # way, the next one adopts the rest instead of acting on last year's leads.
            self.store.save_board_state(board)
        if read.full:
            self._refresh(ledger)
        telemetry.PARKED.set(
            sum(
                e.state is EffectState.PARKED
                for entries in ledger.values()
                for e in entries.values()
            )
        )

    def _log_transitions(self, before: Mapping[str, Lead], read: Sequence[Lead]) -> int:
        """Staff changes since the last read; our own write-backs are already in ``before``."""
        count = 0
        for lead in read:
            previous = before.get(lead.item_id)
            if previous is None:
                log.info("item_seen", item_id=lead.item_id, name=lead.name)
                continue
            for column in self.pipeline.statuses:
                old, new = previous.value(column), lead.value(column)
                if old != new:
                    count += 1
                    telemetry.TRANSITIONS.labels(column=column).inc()
                    log.info(
                        "status_changed", item_id=lead.item_id, column=column, old=old, new=new
                    )
        return count

    # ------------------------------------------------------------ applying decisions

    def _apply(
        self,
        lead: Lead,
        entries: dict[str, LedgerEntry],
        decisions: Sequence[Decision],
        report: CycleReport,
        stop: threading.Event | None,
        deadline: datetime | None,
    ) -> None:
        notes: list[str] = []
        for decision in decisions:
            name = decision.effect
            entry = entries.get(name)
            if decision.act is Act.SKIP:
                self._skip(lead, entries, name, report)
            elif decision.act is Act.ADOPT:
                self._adopt(lead, entries, name, report)
            elif decision.act is Act.WAIT:
                report.waiting += 1
                detail = "waits for " + ", ".join(decision.waiting_for)
                report.actions.append(Action(lead.item_id, lead.name, name, "waiting", detail))
            else:
                if _stopped(stop, deadline, self.now()):
                    report.interrupted = True
                    break
                unmet = [n for n in decision.after if entries[n].state is not EffectState.DONE]
                if unmet:
                    report.waiting += 1
                    detail = "waits for " + ", ".join(unmet)
                    report.actions.append(Action(lead.item_id, lead.name, name, "waiting", detail))
                    continue
                ended = self._run(lead, entries, decision, entry)
                if ended is not None:
                    self._record(ended, report, notes)
        self._post_notes(lead, notes)

    def _run(
        self,
        lead: Lead,
        entries: dict[str, LedgerEntry],
        decision: Decision,
        entry: LedgerEntry | None,
    ) -> EffectEnded | None:
        now = self.now()
        if entry is None:
            entry = LedgerEntry(lead.item_id, decision.effect, updated_at=now)
            if not self.store.save_entry(entry, None):
                log.warning("effect_claimed_elsewhere", item_id=lead.item_id, effect=entry.effect)
                return None
        elif decision.rearm:
            armed = entry.backfill(now) if entry.state is EffectState.ADOPTED else entry.rearm(now)
            if not self.store.save_entry(armed, entry):
                return None
            entry = armed
        entries[decision.effect], ended = self.runner.run(lead, entry, entries)
        return ended

    def _record(self, ended: EffectEnded, report: CycleReport, notes: list[str]) -> None:
        report.record(ended)
        ended.emit()
        note = ended.note(self.options.notes)
        if note:
            notes.append(note)

    def _skip(
        self, lead: Lead, entries: dict[str, LedgerEntry], name: str, report: CycleReport
    ) -> None:
        entry = entries[name]
        skipped = entry.skip(NO_LONGER_REQUIRED, self.now())
        if self.store.save_entry(skipped, entry):
            entries[name] = skipped
            report.skipped += 1
            log.info("effect_skipped", item_id=lead.item_id, effect=name, reason=NO_LONGER_REQUIRED)

    def _adopt(
        self, lead: Lead, entries: dict[str, LedgerEntry], name: str, report: CycleReport
    ) -> None:
        entry = entries.get(name)
        adopted = (entry or LedgerEntry(lead.item_id, name)).adopt(self.now())
        if self.store.save_entry(adopted, entry):
            entries[name] = adopted
            report.adopted += 1
            report.actions.append(
                Action(lead.item_id, lead.name, name, "adopted", self._what(name))
            )
            log.info("effect_adopted", item_id=lead.item_id, effect=name)

    def _post_notes(self, lead: Lead, notes: list[str]) -> None:
        if not notes:
            return
        text = "leadbridge:\n" + "\n".join(f"• {line}" for line in notes)
        try:
            self.ports.board.post_note(lead.item_id, text)
        except ExternalError as error:
            log.warning("note_not_posted", item_id=lead.item_id, error=error.describe())

    def _refresh(self, ledger: Mapping[str, Mapping[str, LedgerEntry]]) -> None:
        """On a full reconcile, kinds that keep far-side state in their refs re-read it."""
        done: dict[str, list[LedgerEntry]] = {}
        for entries in ledger.values():
            for entry in entries.values():
                spec = self.pipeline.effects.get(entry.effect)
                if spec is not None and entry.state is EffectState.DONE:
                    done.setdefault(spec.kind, []).append(entry)
        for kind_name, entries in done.items():
            kind = kind_of(kind_name)
            port = self.ports.for_kind(kind_name)
            if not kind.refreshes() or port is None:
                continue
            try:
                changed = kind.refresh(port, entries)
            except ExternalError as error:
                log.warning("refresh_failed", kind=kind_name, error=error.describe())
                continue
            for entry, ref in changed:
                self.store.save_entry(replace(entry, ref=ref), entry)

    def _account_usage(self, report: CycleReport, *, record: bool) -> None:
        usage = self.ports.board.usage()
        report.requests = usage.requests - self._usage_seen.requests
        report.complexity = usage.complexity - self._usage_seen.complexity
        self._usage_seen = usage
        if not record:
            return
        today = self.now().date()
        self.store.add_usage(today, "monday", report.requests, report.complexity)
        telemetry.MONDAY_CALLS_TODAY.set(self.store.usage(today, "monday")[0])


def rearm_effects(
    store: StateStore, item_id: str, effect: str | None, now: datetime
) -> list[LedgerEntry]:
    """Re-arm parked (or backing-off) effects of one item; the next cycle runs them.

    Needs only the store, so an operator can run it while the service is down.
    """
    rearmed = []
    for entry in store.ledger(item_id):
        if effect is not None and entry.effect != effect:
            continue
        if entry.state in (EffectState.PARKED, EffectState.FAILED):
            armed = entry.rearm(now)
            if store.save_entry(armed, entry):
                rearmed.append(armed)
                log.info("effect_rearmed", item_id=item_id, effect=entry.effect)
    return rearmed


def _current(before: Mapping[str, Lead], read: BoardRead) -> dict[str, Lead]:
    """The board as it stands after ``read``: what was stored, updated by what was read."""
    leads = {} if read.complete else dict(before)
    leads.update({lead.item_id: lead for lead in read.items})
    return leads


def _stopped(stop: threading.Event | None, deadline: datetime | None, now: datetime) -> bool:
    return (stop is not None and stop.is_set()) or (deadline is not None and now >= deadline)


def _numeric_first(item_id: str) -> tuple[int, str]:
    return (int(item_id), "") if item_id.isdigit() else (0, item_id)
