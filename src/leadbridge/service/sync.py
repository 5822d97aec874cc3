"""One sync cycle: read the board → plan → run due effects → record → write back.

The cycle is level-triggered: it plans from the stored snapshot of every item, not from the
changes of this poll, so a lead whose effect failed an hour ago, or that moved while
leadbridge was down, is handled without needing a new event. Each effect runs isolated: an
exception in one lead's effect is recorded against that effect and the cycle moves on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import structlog

from leadbridge import telemetry
from leadbridge.domain.errors import ExternalError, PermanentError, TransientError
from leadbridge.domain.ledger import EffectState, LedgerEntry, RetryPolicy
from leadbridge.domain.model import Lead, Pipeline, rendered
from leadbridge.domain.planning import dependency_order, plan_lead, required_effects, waiting_for
from leadbridge.domain.ports import BoardState, StateStore
from leadbridge.domain.render import template_context
from leadbridge.service.effects import (
    HANDLERS,
    EffectContext,
    Environment,
    Ports,
    describe,
    done_links,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Action:
    """One line of what the cycle did or would do, for the CLI, the demo and dry runs."""

    item_id: str
    lead: str
    effect: str
    outcome: str
    detail: str = ""


@dataclass
class CycleReport:
    started_at: datetime
    finished_at: datetime | None = None
    read_ok: bool = False
    full_reconcile: bool = False
    items_read: int = 0
    transitions: int = 0
    done: int = 0
    failed: int = 0
    parked: int = 0
    waiting: int = 0
    adopted: int = 0
    skipped: int = 0
    requests: int = 0
    complexity: int = 0
    interrupted: bool = False
    error: str | None = None
    actions: list[Action] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            key: getattr(self, key)
            for key in (
                "read_ok", "full_reconcile", "items_read", "transitions", "done", "failed",
                "parked", "waiting", "adopted", "skipped", "requests", "complexity",
                "interrupted", "error",
            )
        }  # fmt: skip


@dataclass(frozen=True)
class SyncOptions:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    full_reconcile_every: timedelta = timedelta(hours=1)
    #: Notes on items: "all" (done and parked), "failures" (parked only) or "none".
    notes: str = "all"
    backfill: bool = False
    dry_run: bool = False


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
        env: Environment,
        options: SyncOptions = SyncOptions(),
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.board_id = board_id
        self.pipeline = pipeline
        self.store = store
        self.ports = ports
        self.env = env
        self.options = options
        self.now = now or _utcnow
        self.order = dependency_order(pipeline.effects)
        self._usage_seen = ports.board.usage()

    # ------------------------------------------------------------ the cycle

    def run_cycle(
        self, *, stop: threading.Event | None = None, deadline: datetime | None = None
    ) -> CycleReport:
        started = time.monotonic()
        report = CycleReport(started_at=self.now())
        dry = self.options.dry_run
        run_id = None if dry else self.store.start_run(report.started_at)
        log.info("cycle_started", dry_run=dry, backfill=self.options.backfill)
        try:
            self._cycle(report, stop, deadline)
        finally:
            self._account_usage(report)
            report.finished_at = self.now()
            outcome = "read_failed" if not report.read_ok else "ok"
            if run_id is not None:
                self.store.finish_run(run_id, report.finished_at, outcome, report.summary())
            telemetry.POLL_DURATION.observe(time.monotonic() - started)
            log.info("cycle_finished", outcome=outcome, **report.summary())
        return report

    def _cycle(
        self, report: CycleReport, stop: threading.Event | None, deadline: datetime | None
    ) -> None:
        now = report.started_at
        state = self.store.board_state()
        first = state is None
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
            return
        report.read_ok = True
        report.items_read = len(read.items)
        before = self.store.snapshots()
        report.transitions = self._log_transitions(before, read.items)
        if self.options.dry_run:
            leads = {**before, **{lead.item_id: lead for lead in read.items}}
            if read.complete:
                leads = {lead.item_id: lead for lead in read.items}
        else:
            self.store.save_snapshots(read.items, complete=read.complete)
            board = BoardState(
                self.board_id,
                first_cycle_at=state.first_cycle_at if state else now,
                watermark=read.watermark or (state.watermark if state else None),
                last_full_read_at=now if full else (state.last_full_read_at if state else None),
            )
            if not first or self.options.backfill:
                # A backfill acts from its first effect on, so the board counts as met at
                # once; an adopting first cycle is recorded only when it has met every lead.
                self.store.save_board_state(board)
            leads = self.store.snapshots()
        ledger: dict[str, dict[str, LedgerEntry]] = {}
        for entry in self.store.ledger():
            ledger.setdefault(entry.item_id, {})[entry.effect] = entry
        adopting = first and not self.options.backfill
        for item_id in sorted(leads, key=_numeric_first):
            if _stopped(stop, deadline, self.now()):
                report.interrupted = True
                log.warning("cycle_stopped_early", reason="stop requested or deadline reached")
                break
            try:
                self._reconcile_lead(
                    leads[item_id], ledger.setdefault(item_id, {}), adopting, report, stop, deadline
                )
            except Exception as error:  # one lead must never stop the others
                report.error = f"item {item_id}: unexpected {type(error).__name__}: {error}"
                log.exception("lead_failed", item_id=item_id)
        if adopting and not self.options.dry_run and not report.interrupted:
            # Only a first cycle that met every lead ends the first run: if it stopped half
            # way, the next one adopts the rest instead of acting on last year's leads.
            self.store.save_board_state(board)
        if full and not self.options.dry_run:
            self._refresh_issue_states(ledger)
        telemetry.PARKED.set(
            sum(
                e.state is EffectState.PARKED
                for entries in ledger.values()
                for e in entries.values()
            )
        )

    def _log_transitions(
        self, before: Mapping[str, Lead], read: list[Lead] | tuple[Lead, ...]
    ) -> int:
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

    def _reconcile_lead(
        self,
        lead: Lead,
        entries: dict[str, LedgerEntry],
        adopting: bool,
        report: CycleReport,
        stop: threading.Event | None,
        deadline: datetime | None,
    ) -> None:
        now = self.now()
        self._skip_unrequired(lead, entries, report)
        if self.options.backfill:
            for name, entry in list(entries.items()):
                if entry.state is EffectState.ADOPTED:
                    entries[name] = self._save(entry.backfill(now), entry) or entry
        notes: list[str] = []
        for name in plan_lead(lead, self.pipeline, entries, self.order):
            spec = self.pipeline.effects[name]
            entry = entries.get(name)
            # Only what was never started is adopted; an effect an earlier run began (a
            # backfill cut short) is finished, not forgotten.
            if adopting and (entry is None or entry.state is EffectState.PENDING):
                adopted = (entry or LedgerEntry(lead.item_id, name)).adopt(now)
                if self.options.dry_run or self._save(adopted, entry):
                    entries[name] = adopted
                    report.adopted += 1
                    report.actions.append(
                        Action(lead.item_id, lead.name, name, "adopted", describe(spec))
                    )
                    log.info("effect_adopted", item_id=lead.item_id, effect=name)
                continue
            if _stopped(stop, deadline, self.now()):
                report.interrupted = True
                break
            waiting = waiting_for(spec, entries)
            if waiting:
                report.waiting += 1
                report.actions.append(
                    Action(
                        lead.item_id, lead.name, name, "waiting", "waits for " + ", ".join(waiting)
                    )
                )
                continue
            if entry is not None and entry.state is EffectState.SKIPPED:
                entry = self._save(entry.rearm(now), entry)
                if entry is None:
                    continue
            if entry is not None and not entry.is_due(now):
                continue
            if self.options.dry_run:
                context = template_context(lead, done_links(entries), now.date())
                report.actions.append(
                    Action(lead.item_id, lead.name, name, "would run", describe(spec, context))
                )
                entries[name] = replace(
                    entry or LedgerEntry(lead.item_id, name), state=EffectState.DONE
                )
                continue
            if entry is None:
                entry = LedgerEntry(lead.item_id, name, updated_at=now)
                if not self.store.save_entry(entry, None):
                    log.warning("effect_claimed_elsewhere", item_id=lead.item_id, effect=name)
                    continue
            entries[name] = self._execute(lead, entry, entries, report, notes)
        self._post_notes(lead, notes)

    def _skip_unrequired(
        self, lead: Lead, entries: dict[str, LedgerEntry], report: CycleReport
    ) -> None:
        """A lead moved back or to an off-path label: stop retrying what it no longer needs."""
        required = required_effects(lead, self.pipeline)
        for name, entry in list(entries.items()):
            if name in required or entry.state not in (EffectState.PENDING, EffectState.FAILED):
                continue
            reason = "no longer required by the lead's statuses"
            if self.options.dry_run:
                continue
            skipped = self._save(entry.skip(reason, self.now()), entry)
            if skipped is not None:
                entries[name] = skipped
                report.skipped += 1
                log.info("effect_skipped", item_id=lead.item_id, effect=name, reason=reason)

    def _execute(
        self,
        lead: Lead,
        entry: LedgerEntry,
        entries: dict[str, LedgerEntry],
        report: CycleReport,
        notes: list[str],
    ) -> LedgerEntry:
        spec = self.pipeline.effects[entry.effect]
        interrupted = entry.state is EffectState.RUNNING
        current = self._save(entry.start(self.now()), entry)
        if current is None:
            log.warning("effect_claimed_elsewhere", item_id=lead.item_id, effect=entry.effect)
            return entry
        fields = {"item_id": lead.item_id, "effect": entry.effect, "attempt": current.attempts}
        log.info("effect_started", kind=spec.kind, interrupted_before=interrupted, **fields)
        started = time.monotonic()
        try:
            context = EffectContext(
                lead=lead,
                spec=spec,
                entry=current,
                ledger=entries,
                links=done_links(entries),
                today=self.now().date(),
                ports=self.ports,
                env=self.env,
                interrupted=interrupted,
            )
            outcome = HANDLERS[spec.kind](context)
            recorded = current.record_ref({**outcome.ref, "links": outcome.links}, self.now())
            current = self._save(recorded, current) or recorded
            if outcome.writes:
                self.ports.board.write_values(lead.item_id, outcome.writes)
                self.store.apply_own_write(
                    lead.item_id, {c: rendered(v) for c, v in outcome.writes.items()}
                )
            done = current.succeed({}, self.now())
            current = self._save(done, current) or done
        except Exception as error:
            return self._record_failure(lead, spec.kind, current, error, report, notes, started)
        duration = round(time.monotonic() - started, 3)
        telemetry.EFFECTS.labels(kind=spec.kind, outcome="done").inc()
        report.done += 1
        report.actions.append(
            Action(lead.item_id, lead.name, entry.effect, "done", outcome.summary)
        )
        log.info("effect_done", duration_s=duration, summary=outcome.summary, **fields)
        if outcome.summary and self.options.notes == "all":
            notes.append(outcome.summary)
        return current

    def _record_failure(
        self,
        lead: Lead,
        kind: str,
        current: LedgerEntry,
        error: Exception,
        report: CycleReport,
        notes: list[str],
        started: float,
    ) -> LedgerEntry:
        if isinstance(error, ExternalError):
            message = error.describe()
        else:
            message = f"unexpected {type(error).__name__}: {error}"
        retry_after = error.retry_after if isinstance(error, TransientError) else None
        failed = current.fail(
            message,
            self.now(),
            self.options.policy,
            permanent=isinstance(error, PermanentError),
            retry_after=retry_after,
        )
        saved = self._save(failed, current) or failed
        fields = {
            "item_id": lead.item_id,
            "effect": current.effect,
            "attempt": current.attempts,
            "duration_s": round(time.monotonic() - started, 3),
            "error": message,
        }
        what = describe(self.pipeline.effects[current.effect])
        if saved.state is EffectState.PARKED:
            report.parked += 1
            telemetry.EFFECTS.labels(kind=kind, outcome="parked").inc()
            log.error("effect_parked", **fields)
            report.actions.append(
                Action(lead.item_id, lead.name, current.effect, "parked", message)
            )
            if self.options.notes != "none":
                notes.append(
                    f"could not {what} after {saved.attempts} attempt(s): {message} "
                    f"Once fixed, an operator runs: leadbridge retry {lead.item_id} {current.effect}"
                )
        else:
            report.failed += 1
            telemetry.EFFECTS.labels(kind=kind, outcome="failed").inc()
            retry_at = (
                saved.next_attempt_at.isoformat(timespec="seconds")
                if saved.next_attempt_at
                else "?"
            )
            log.warning("effect_failed", next_attempt_at=retry_at, **fields)
            report.actions.append(
                Action(
                    lead.item_id,
                    lead.name,
                    current.effect,
                    "failed",
                    f"{message} (next try {retry_at})",
                )
            )
        return saved

    def _post_notes(self, lead: Lead, notes: list[str]) -> None:
        if not notes:
            return
        text = "leadbridge:\n" + "\n".join(f"• {line}" for line in notes)
        try:
            self.ports.board.post_note(lead.item_id, text)
        except ExternalError as error:
            log.warning("note_not_posted", item_id=lead.item_id, error=error.describe())

    def _refresh_issue_states(self, ledger: Mapping[str, Mapping[str, LedgerEntry]]) -> None:
        """Keep each hub issue's open/closed state so ``status`` shows which hubs are set up."""
        issues = self.ports.issues
        if issues is None:
            return
        hub_entries = [
            entry
            for entries in ledger.values()
            for entry in entries.values()
            if entry.state is EffectState.DONE
            and "number" in entry.ref
            and self.pipeline.effects.get(entry.effect) is not None
            and self.pipeline.effects[entry.effect].kind == "hub_issue"
        ]
        if not hub_entries:
            return
        try:
            states = issues.issue_states([int(e.ref["number"]) for e in hub_entries])
        except ExternalError as error:
            log.warning("issue_states_not_read", error=error.describe())
            return
        for entry in hub_entries:
            state = states.get(int(entry.ref["number"]))
            if state and state != entry.ref.get("state"):
                self._save(replace(entry, ref={**entry.ref, "state": state}), entry)

    def _account_usage(self, report: CycleReport) -> None:
        usage = self.ports.board.usage()
        report.requests = usage.requests - self._usage_seen.requests
        report.complexity = usage.complexity - self._usage_seen.complexity
        self._usage_seen = usage
        if self.options.dry_run:
            return
        today = self.now().date()
        self.store.add_usage(today, "monday", report.requests, report.complexity)
        telemetry.MONDAY_CALLS_TODAY.set(self.store.usage(today, "monday")[0])
        telemetry.MONDAY_COMPLEXITY.inc(max(report.complexity, 0))

    def _save(self, entry: LedgerEntry, expected: LedgerEntry | None) -> LedgerEntry | None:
        if self.options.dry_run:
            return entry
        return entry if self.store.save_entry(entry, expected) else None


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


def _stopped(stop: threading.Event | None, deadline: datetime | None, now: datetime) -> bool:
    return (stop is not None and stop.is_set()) or (deadline is not None and now >= deadline)


def _numeric_first(item_id: str) -> tuple[int, str]:
    return (int(item_id), "") if item_id.isdigit() else (0, item_id)
