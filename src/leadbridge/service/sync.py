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
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from leadbridge import telemetry
from leadbridge.domain import history
from leadbridge.domain.decide import NO_LONGER_REQUIRED, Act, Decision, Situation, decide
from leadbridge.domain.errors import ExternalError
from leadbridge.domain.history import Trigger, widened
from leadbridge.domain.ledger import ATTEMPTED, EffectState, LedgerEntry, RetryPolicy
from leadbridge.domain.model import Lead, Pipeline
from leadbridge.domain.planning import dependency_order, effects_ahead, required_effects
from leadbridge.domain.ports import BoardRead, BoardState, ItemNote, Lease, StateStore
from leadbridge.domain.render import in_words, template_context
from leadbridge.effects.base import EffectKind
from leadbridge.effects.registry import kind_of
from leadbridge.exits import CannotStart
from leadbridge.service.alerts import Alerts
from leadbridge.service.apply import (
    EffectRunner,
    Ports,
    WriteBack,
    describe,
    done_links,
    owner_alive,
    this_process,
)
from leadbridge.service.guard import MassActionGuard
from leadbridge.service.report import Action, CycleReport, EffectEnded
from leadbridge.service.timeline import attempt_of

log = structlog.get_logger(__name__)

#: Board fact: the triggers of every effect, as last in force.
TRIGGERS = "pipeline_triggers"
#: Board fact: this state database's identity, written when it first meets the board.
INSTANCE = "instance"

__all__ = ["Action", "CycleReport", "Ports", "SyncOptions", "SyncService", "rearm_effects"]


@dataclass(frozen=True)
class SyncOptions:
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    full_reconcile_every: timedelta = timedelta(hours=1)
    #: Notes on items: "all" (done and parked), "failures" (parked, waiting, adopted, a
    #: write-back left for staff's edit) or "none".
    notes: str = "failures"
    backfill: bool = False
    #: Effects the operator asked to act on although adopted (``--backfill EFFECT``).
    backfill_effects: frozenset[str] = frozenset()
    #: A row started under another lock epoch is presumed in flight this long.
    takeover_after: timedelta = timedelta(minutes=5)
    #: More new effects of one kind than this in one cycle wait for an operator.
    max_new_per_kind: int = 20
    #: Meet a board that was worked before from another state database, adopting what exists.
    adopt_existing: bool = False
    #: A write-back to an item this cycle's poll read less than this long ago takes the
    #: poll's values as the read before the write (``monday.write_back_recheck_seconds``).
    write_back_recheck: timedelta = timedelta(seconds=20)


class WorkedBefore(CannotStart):
    """The state database is new to a board that leadbridge has worked from another one."""


@dataclass(frozen=True)
class _Read:
    state: BoardState | None
    read: BoardRead
    full: bool


@dataclass
class _LeadWork:
    """What applying one lead's decisions leaves for the end of the cycle, in the order of
    its effects: the note lines of those that ended, each with the attempt it is about, and
    the write-backs still to come (a ``WriteBack``, which ends at the end of the cycle); and
    the adoption lines that open the lead's note."""

    lead: Lead
    entries: dict[str, LedgerEntry]
    slots: list[tuple[str, str] | WriteBack] = field(default_factory=list)
    preface: list[str] = field(default_factory=list)

    def said(self, lines: Sequence[str], ended: EffectEnded) -> None:
        """The note lines of an effect that ended now (recorded at once, logged at once)."""
        self.slots.extend((line, ended.attempt_id) for line in lines)

    @property
    def recorded(self) -> frozenset[str]:
        """Effects whose call is made and recorded and whose write-back is still to come."""
        return frozenset(s.entry.effect for s in self.slots if isinstance(s, WriteBack))


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
        alerts: Alerts | None = None,
    ) -> None:
        self.board_id = board_id
        self.pipeline = pipeline
        self.store = store
        self.ports = ports
        self.options = options
        self.now = now or _utcnow
        self.order = dependency_order(pipeline.effects)
        self.runner = EffectRunner(pipeline, store, ports, env or {}, options.policy, self.now)
        self.triggers = history.triggers(pipeline)
        self.guard = MassActionGuard(store, pipeline, options.max_new_per_kind)
        self._usage_seen = ports.board.usage()
        self.alerts = alerts or Alerts.off()

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
            ledger = self._ledger()
            situation = self._situation(read.state, report.started_at, ledger)
            plan = {
                item_id: decide(
                    leads[item_id], ledger.get(item_id, {}), self.pipeline, self.order, situation
                )
                for item_id in sorted(leads, key=_numeric_first)
            }
            self.guard.check(plan, ledger, report.started_at, report, record=False)
            for item_id, decisions in plan.items():
                self._describe(leads[item_id], ledger.get(item_id, {}), decisions, report)
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
                detail = describe(self.pipeline, name, context)
                line = Action(lead.item_id, lead.name, name, "adopted", detail)
            elif decision.act is Act.WAIT:
                report.waiting += 1
                detail = "waits for " + ", ".join(decision.waiting_for)
                line = Action(lead.item_id, lead.name, name, "waiting", detail)
            elif decision.act is Act.SKIP:
                report.skipped += 1
                line = Action(lead.item_id, lead.name, name, "would skip", NO_LONGER_REQUIRED)
            elif decision.act is Act.BUSY:
                line = Action(lead.item_id, lead.name, name, "busy", _BUSY)
            elif decision.act is Act.RESOLVE:
                line = Action(lead.item_id, lead.name, name, "would resolve", _RESOLVE)
            else:
                detail = describe(self.pipeline, name, context)
                line = Action(lead.item_id, lead.name, name, "would run", detail)
            report.actions.append(line)

    # ------------------------------------------------------------ the cycle

    def run_cycle(
        self,
        *,
        stop: threading.Event | None = None,
        deadline: datetime | None = None,
        lease: Lease | None = None,
    ) -> CycleReport:
        """One cycle. With a ``lease``, rows are started under its epoch and the lease is
        checked before every effect: a process that lost the lock starts nothing more."""
        self.runner.lease = lease
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

    def _situation(
        self,
        state: BoardState | None,
        now: datetime,
        ledger: Mapping[str, Mapping[str, LedgerEntry]],
    ) -> Situation:
        lease = self.runner.lease
        owners = {
            e.owner
            for entries in ledger.values()
            for e in entries.values()
            if e.state is EffectState.RUNNING and e.owner
        }
        backfill = frozenset(self.pipeline.effects) if self.options.backfill else frozenset()
        return Situation(
            now=now,
            adopting=state is None,
            backfill=backfill | self.options.backfill_effects,
            changed=self._changed() if state is not None else {},
            epoch=lease.epoch if lease else None,
            takeover_after=self.options.takeover_after,
            # This process runs one cycle at a time, so a row it started under an earlier
            # epoch (or a predecessor with the same pid, PID 1 in a container) is not in flight.
            dead_owners=frozenset(o for o in owners if o == this_process() or not owner_alive(o)),
        )

    def _changed(self) -> dict[str, frozenset[Trigger]]:
        """Effects added or widened since the pipeline last recorded, less those configured
        to act on the leads already past them (``backfill: true``)."""
        recorded = self.store.fact(TRIGGERS)
        if recorded is None:  # a database from before this was recorded: nothing to compare
            return {}
        changed = widened(history.from_document(recorded), self.triggers)
        for name in list(changed):
            if getattr(self.pipeline.effects[name].params, "backfill", False):
                del changed[name]
        if changed:
            log.warning(
                "pipeline_changed",
                effects=sorted(changed),
                detail="leads already past the new triggers are adopted, not acted on",
            )
        return changed

    def _ledger(self, item_ids: set[str] | None = None) -> dict[str, dict[str, LedgerEntry]]:
        """The ledger by item and effect: whole, or of ``item_ids`` only."""
        ledger: dict[str, dict[str, LedgerEntry]] = {}
        rows = self.store.ledger() if item_ids is None else self.store.ledger_of(item_ids)
        for entry in rows:
            ledger.setdefault(entry.item_id, {})[entry.effect] = entry
        return ledger

    def _cycle(
        self, report: CycleReport, stop: threading.Event | None, deadline: datetime | None
    ) -> None:
        polled_at = self.now()
        read = self._read(report)
        if read is None:
            return
        now, state = report.started_at, read.state
        read_ids = {lead.item_id for lead in read.read.items}
        scope = self._scope(read, now)
        before = self.store.snapshots(None if scope is None else scope | read_ids)
        report.transitions = self._log_transitions(before, read.read.items, record=True)
        self.store.save_snapshots(read.read.items, complete=read.read.complete)
        # Before the watermark moves: what was read is planned, in this cycle or a later one.
        self.store.mark_unsettled(read_ids, now)
        board = BoardState(
            self.board_id,
            first_cycle_at=state.first_cycle_at if state else now,
            watermark=read.read.watermark or (state.watermark if state else None),
            last_full_read_at=now if read.full else (state.last_full_read_at if state else None),
        )
        leads = _current(before, read.read)
        if state is None and self.store.fact(INSTANCE) is None:
            if not self.options.adopt_existing:
                self._refuse_if_worked_before(leads)
            self.store.save_fact(INSTANCE, {"id": uuid.uuid4().hex, "created_at": now.isoformat()})
        ledger = self._ledger(None if scope is None else set(leads))
        situation = self._situation(state, now, ledger)
        adopting = situation.adopting and situation.backfill != set(self.pipeline.effects)
        if not adopting:
            # A backfill of everything acts from its first effect on, so the board counts as
            # met at once; an adopting first cycle is recorded only when it met every lead.
            self.store.save_board_state(board)
        plan: dict[str, list[Decision]] = {}
        for item_id in sorted(leads, key=_numeric_first):
            try:
                plan[item_id] = decide(
                    leads[item_id], ledger.get(item_id, {}), self.pipeline, self.order, situation
                )
            except Exception as error:  # one lead must never stop the others
                report.error = f"item {item_id}: unexpected {type(error).__name__}: {error}"
                log.exception("lead_failed", item_id=item_id)
        held = self.guard.check(plan, ledger, now, report)
        settled: list[str] = []
        works: list[_LeadWork] = []
        for item_id, decisions in plan.items():
            if _stopped(stop, deadline, self.now()):
                report.interrupted = True
                log.warning("cycle_stopped_early", reason="stop requested or deadline reached")
                break
            entries = ledger.setdefault(item_id, {})
            work = _LeadWork(leads[item_id], entries)
            works.append(work)
            try:
                self._apply(
                    leads[item_id],
                    entries,
                    decisions,
                    held.get(item_id, set()),
                    report,
                    stop,
                    deadline,
                    work,
                )
            except Exception as error:  # one lead must never stop the others
                report.error = f"item {item_id}: unexpected {type(error).__name__}: {error}"
                log.exception("lead_failed", item_id=item_id)
                continue
            if not held.get(item_id) and not report.interrupted:
                settled.append(item_id)
        self._finish(works, read_ids, polled_at, report)
        if not report.interrupted:
            # Only a cycle that met every lead records what it met: if it stopped half way,
            # the next one adopts the rest instead of acting on last year's leads.
            if adopting:
                self.store.save_board_state(board)
            self.store.save_fact(TRIGGERS, history.to_document(self.triggers))
            self.guard.consume()
        # A lead whose decisions were all applied (even if an effect failed: its due time
        # brings it back) needs no plan until the board or the ledger says otherwise.
        self.store.settle(settled)
        if read.full:
            self._refresh(ledger)
        telemetry.PARKED.set(self.store.count_in_state(EffectState.PARKED))

    def _scope(self, read: _Read, now: datetime) -> set[str] | None:
        """The leads an incremental cycle plans, or None for every lead.

        What can act without a full plan: items read now, items read earlier whose plan was
        not finished (a stopped or killed cycle, a held mass action), and items with an
        effect due (running, pending after a retry, waiting for input, failed and due). So a
        quiet cycle costs what changed and what is due, not the size of the board. A full
        read, a first meeting, a backfill or a changed pipeline plans every lead.
        """
        recorded = self.store.fact(TRIGGERS)
        if (
            read.full
            or read.state is None
            or self.options.backfill
            or self.options.backfill_effects
            or recorded != history.to_document(self.triggers)
        ):
            return None
        return self.store.unsettled_items() | self.store.due_items(now)

    def _refuse_if_worked_before(self, leads: Mapping[str, Lead], sample: int = 5) -> None:
        """A new state database for a board with leadbridge's objects on it would treat every
        lead as new: ask the far side about a few leads before adopting anything."""
        for name in self.order:
            kind = kind_of(self.pipeline.effects[name].kind)
            if type(kind).existing is EffectKind.existing:
                continue
            candidates = [
                lead for lead in leads.values() if name in required_effects(lead, self.pipeline)
            ]
            for lead in candidates[:sample]:
                try:
                    found = self.runner.existing(lead, name)
                except ExternalError as error:
                    log.warning("continuity_probe_failed", effect=name, error=error.describe())
                    break
                if found:
                    raise WorkedBefore(
                        f"the state database has no record of board {self.board_id}, but "
                        f"leadbridge has worked on it before: {name} of item {lead.item_id} "
                        f"exists ({found}). Acting from an empty database would treat its "
                        "leads as new. Fix: point state.url at the database leadbridge used, "
                        "or adopt what exists deliberately: leadbridge sync --once --adopt-existing"
                    )

    def _log_transitions(
        self, before: Mapping[str, Lead], read: Sequence[Lead], *, record: bool = False
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
                    if record:  # the status page's history; a dry run keeps nothing
                        self.store.record_status_change(lead.item_id, column, old, new, self.now())
        return count

    # ------------------------------------------------------------ applying decisions

    def _apply(
        self,
        lead: Lead,
        entries: dict[str, LedgerEntry],
        decisions: Sequence[Decision],
        held: set[str],
        report: CycleReport,
        stop: threading.Event | None,
        deadline: datetime | None,
        work: _LeadWork,
    ) -> None:
        """Act on one lead's decisions, in dependency order; what each effect came to is
        left in ``work`` for ``_finish`` (an effect recorded with its write-back to come
        counts as done for the effects after it)."""
        adopted: list[str] = []
        #: No row yet: leadbridge meets this lead now (a configuration change that adopts a
        #: new effect on a lead it knows says nothing on the item).
        met_now = not entries
        for decision in decisions:
            name = decision.effect
            entry = entries.get(name)
            if name in held:
                report.actions.append(Action(lead.item_id, lead.name, name, "held", _HELD))
            elif decision.act is Act.SKIP:
                self._skip(lead, entries, name, report)
            elif decision.act is Act.ADOPT:
                if self._adopt(lead, entries, name, report):
                    adopted.append(name)
            elif decision.act is Act.WAIT:
                report.waiting += 1
                detail = "waits for " + ", ".join(decision.waiting_for)
                report.actions.append(Action(lead.item_id, lead.name, name, "waiting", detail))
            elif decision.act is Act.BUSY:
                report.actions.append(Action(lead.item_id, lead.name, name, "busy", _BUSY))
                log.warning("effect_busy_elsewhere", item_id=lead.item_id, effect=name)
            else:
                if _stopped(stop, deadline, self.now()) or not self.runner.still_leading():
                    report.interrupted = True
                    break
                recorded = work.recorded
                unmet = [
                    n
                    for n in decision.after
                    if entries[n].state is not EffectState.DONE and n not in recorded
                ]
                if unmet:
                    report.waiting += 1
                    detail = "waits for " + ", ".join(unmet)
                    report.actions.append(Action(lead.item_id, lead.name, name, "waiting", detail))
                    continue
                ended = self._run(lead, entries, decision, entry, recorded)
                if isinstance(ended, WriteBack):
                    work.slots.append(ended)
                elif ended is not None:
                    lines: list[str] = []
                    self._record(ended, report, lines)
                    work.said(lines, ended)
        # What leadbridge will not do on a lead it meets is said under "failures" too.
        if adopted and met_now and self.options.notes != "none":
            work.preface = self._adoption_note(lead, entries, adopted, decisions)

    def _finish(
        self,
        works: Sequence[_LeadWork],
        polled: Collection[str],
        polled_at: datetime,
        report: CycleReport,
    ) -> None:
        """Write back together what the cycle's effects made, then record how each of those
        effects ended, and post the leads' notes together (lines in the order of the effects).

        One request carries every write-back and one every note, whatever the number of
        leads (plus one read of the items the poll did not read recently enough).
        """
        pending = [slot for work in works for slot in work.slots if isinstance(slot, WriteBack)]
        recent = self.now() - polled_at < self.options.write_back_recheck
        try:
            ends = self.runner.settle(pending, polled if recent else frozenset())
        except Exception as error:  # rows stay RUNNING with their refs: the next cycle resumes
            report.error = f"write-backs: unexpected {type(error).__name__}: {error}"
            log.exception("write_backs_failed", effects=len(pending))
            ends = {}
        left = [p.entry.effect for p in pending if (p.entry.item_id, p.entry.effect) not in ends]
        if left:
            log.warning(
                "write_backs_left",
                effects=len(left),
                detail="left running with what they made; the next attempt writes back",
            )
        notes: list[ItemNote] = []
        for work in works:
            try:
                note = self._ended_lead(work, ends, report)
            except Exception as error:  # one lead must never stop the others
                item_id = work.lead.item_id
                report.error = f"item {item_id}: unexpected {type(error).__name__}: {error}"
                log.exception("lead_failed", item_id=item_id)
                continue
            if note is not None:
                notes.append(note)
        try:
            self._post_notes(notes)
        except Exception as error:  # a note is never worth the cycle
            report.error = f"notes: unexpected {type(error).__name__}: {error}"
            log.exception("notes_failed", notes=len(notes))

    def _ended_lead(
        self,
        work: _LeadWork,
        ends: Mapping[tuple[str, str], tuple[LedgerEntry, EffectEnded]],
        report: CycleReport,
    ) -> ItemNote | None:
        """Record how the lead's effects with a write-back ended; its note, if it has one."""
        lines: list[str] = []
        attempts: list[str] = []
        for slot in work.slots:
            if not isinstance(slot, WriteBack):
                lines.append(slot[0])
                attempts.append(slot[1])
                continue
            key = (slot.entry.item_id, slot.entry.effect)
            if key not in ends:
                continue
            work.entries[slot.entry.effect], ended = ends[key]
            said = len(lines)
            self._record(ended, report, lines)
            attempts.extend([ended.attempt_id] * (len(lines) - said))
        if work.preface:
            lines[:0] = work.preface
            attempts.insert(0, "adopted")
        if not lines:
            return None
        text = "leadbridge:\n" + "\n".join(f"• {line}" for line in lines)
        return ItemNote(work.lead.item_id, text, ";".join(attempts))

    def _adoption_note(
        self,
        lead: Lead,
        entries: Mapping[str, LedgerEntry],
        adopted: Sequence[str],
        decisions: Sequence[Decision],
    ) -> list[str]:
        """Met already under way: what was found done, and what leadbridge does from here.

        Said once, when the lead's effects are adopted, and only if something is ahead; in
        the words staff know (each effect as its kind describes it, a stage by its column
        and label), never the configuration's keys."""
        context = template_context(lead, done_links(entries), self.now().date())
        ahead = effects_ahead(lead, self.pipeline)
        running = {d.effect for d in decisions if d.act is Act.RUN}
        plan = []
        for name in self.order:
            if name in running:
                when = "now"
            elif name in ahead and name not in entries:
                rule = ahead[name]
                when = f"when {in_words(rule.column)} reaches {rule.label}"
            else:
                continue
            plan.append(f"{describe(self.pipeline, name, context)} ({when})")
        if not plan:
            return []
        found = []
        for name in adopted:
            ref = entries[name].ref
            made = kind_of(self.pipeline.effects[name].kind).made(ref) if ref.get("found") else ""
            what = describe(self.pipeline, name, context)
            found.append(f"{what} ({made})" if made else what)
        return [
            "first met this lead already under way; counted as done by hand, never repeated: "
            + "; ".join(found),
            "from here leadbridge will " + "; ".join(plan),
        ]

    def _run(
        self,
        lead: Lead,
        entries: dict[str, LedgerEntry],
        decision: Decision,
        entry: LedgerEntry | None,
        recorded: frozenset[str],
    ) -> EffectEnded | WriteBack | None:
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
        resolving = decision.act is Act.RESOLVE
        entries[decision.effect], ended = self.runner.run(
            lead, entry, entries, resolving=resolving, recorded=recorded
        )
        return ended

    def _record(self, ended: EffectEnded, report: CycleReport, notes: list[str]) -> None:
        report.record(ended)
        if not ended.repeated:  # a wait for the same input is one entry on the timeline
            self.store.record_attempt(attempt_of(ended, self.now()))
        ended.emit()
        self.alerts.effect_ended(ended)  # e-mails the operators once when it parked
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
    ) -> bool:
        """Record the effect as history, with what staff made for it if the board shows it."""
        entry = entries.get(name)
        found = self.runner.adopted(lead, name, entries)
        adopted = (entry or LedgerEntry(lead.item_id, name)).adopt(self.now(), found)
        if not self.store.save_entry(adopted, entry):
            return False
        entries[name] = adopted
        report.adopted += 1
        context = template_context(lead, done_links(entries), self.now().date())
        detail = describe(self.pipeline, name, context)
        if found:
            detail += (
                f"; found on the item: {kind_of(self.pipeline.effects[name].kind).made(found)}"
            )
        report.actions.append(Action(lead.item_id, lead.name, name, "adopted", detail))
        log.info("effect_adopted", item_id=lead.item_id, effect=name, found=bool(found))
        return True

    def _post_notes(self, notes: Sequence[ItemNote]) -> None:
        """All of the cycle's notes in one request; a note not posted is logged, never fatal."""
        if not notes:
            return
        for note, failure in zip(notes, self.ports.board.post_notes(notes), strict=True):
            if failure is not None:
                log.warning("note_not_posted", item_id=note.item_id, error=failure.describe())

    def _refresh(self, ledger: Mapping[str, Mapping[str, LedgerEntry]]) -> None:
        """On a full reconcile, kinds that keep far-side state in their refs re-read it."""
        done: dict[str, list[LedgerEntry]] = {}
        for entries in ledger.values():
            for entry in entries.values():
                spec = self.pipeline.effects.get(entry.effect)
                if spec is not None and (
                    entry.state is EffectState.DONE
                    or (entry.state is EffectState.ADOPTED and entry.ref.get("found"))
                ):
                    done.setdefault(spec.kind, []).append(entry)
        for kind_name, entries in done.items():
            kind = kind_of(kind_name)
            if not kind.refreshes() or kind.port is None:
                continue
            try:
                changed = kind.refresh(self.ports.for_kind(kind_name), entries)
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
    store: StateStore, item_id: str, effect: str | None, now: datetime, *, resend: bool = False
) -> list[tuple[LedgerEntry, LedgerEntry]]:
    """Re-arm parked or backing-off effects of one item; the next cycle runs them.

    Returns ``(before, after)`` pairs, so the caller can say what each one was. Re-arming
    keeps the memory that an earlier attempt may have acted (an e-mail backend is asked
    again before sending); ``resend`` is an operator's word that it did not, and clears it.
    Needs only the store, so an operator can run it while the service is down.
    """
    rearmed = []
    for entry in store.ledger(item_id):
        if effect is not None and entry.effect != effect:
            continue
        if entry.state in (EffectState.PARKED, EffectState.FAILED):
            armed = entry.rearm(now)
            if resend:
                armed = replace(armed, ref={**armed.ref, ATTEMPTED: False})
            if store.save_entry(armed, entry):
                rearmed.append((entry, armed))
                log.info(
                    "effect_rearmed",
                    item_id=item_id,
                    effect=entry.effect,
                    was=entry.state.value,
                    resend=resend,
                )
    return rearmed


_HELD = "held with others of its kind until an operator confirms: leadbridge plan --confirm"
_BUSY = "started by another leadbridge whose call may still be in flight; left alone"
_RESOLVE = "an attempt was interrupted and the lead no longer needs it: finish what it began"


def _current(before: Mapping[str, Lead], read: BoardRead) -> dict[str, Lead]:
    """The board as it stands after ``read``: what was stored, updated by what was read."""
    leads = {} if read.complete else dict(before)
    leads.update({lead.item_id: lead for lead in read.items})
    return leads


def _stopped(stop: threading.Event | None, deadline: datetime | None, now: datetime) -> bool:
    return (stop is not None and stop.is_set()) or (deadline is not None and now >= deadline)


def _numeric_first(item_id: str) -> tuple[int, str]:
    return (int(item_id), "") if item_id.isdigit() else (0, item_id)
