"""The effect ledger's state machine, driven by random sequences of operations.

Every operation is checked against an explicit oracle (``expected``) written from the
transition table in ``leadbridge.domain.ledger``: a legal move must produce exactly the
documented entry, a forbidden one must raise ``IllegalTransition`` and change nothing. The
invariants that "exactly once" rests on (a done effect is never lost, attempts only grow on
start, parked and adopted effects leave only when a person says so, …) are asserted after
every step.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from leadbridge.domain.ledger import (
    ATTEMPTED,
    MAX_RETRY_AFTER,
    EffectState,
    IllegalTransition,
    LedgerEntry,
    RetryPolicy,
)

S = EffectState
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

#: The states each operation may start from: the contract of ``ledger.py``.
LEGAL_FROM: dict[str, frozenset[EffectState]] = {
    "start": frozenset({S.PENDING, S.FAILED, S.RUNNING, S.WAITING}),
    "record_ref": frozenset({S.RUNNING}),
    "succeed": frozenset({S.RUNNING}),
    "fail": frozenset({S.RUNNING}),
    "rearm": frozenset({S.PARKED, S.FAILED, S.SKIPPED}),
    "adopt": frozenset({S.PENDING}),
    "backfill": frozenset({S.ADOPTED}),
    "skip": frozenset({S.PENDING, S.FAILED, S.RUNNING, S.WAITING}),
    "wait": frozenset({S.RUNNING}),
}

#: One call of each operation (both kinds of failure), for the exhaustive checks.
PROBES: dict[str, tuple[str, dict[str, Any]]] = {
    "start": ("start", {}),
    "record_ref": ("record_ref", {"ref": {"url": "https://example.org/f"}}),
    "succeed": ("succeed", {"ref": {"id": "F1"}}),
    "fail_transient": ("fail", {"error": "503", "permanent": False, "retry_after": 30.0}),
    "fail_permanent": ("fail", {"error": "404", "permanent": True, "retry_after": None}),
    "rearm": ("rearm", {}),
    "adopt": ("adopt", {}),
    "adopt_found": ("adopt", {"ref": {"url": "https://example.org/made-by-hand"}}),
    "backfill": ("backfill", {}),
    "skip": ("skip", {"reason": "lead moved away"}),
    "wait": ("wait", {"reason": "no folder link on the item", "not_acted": True}),
    "wait_until": (
        "wait",
        {"reason": "not due yet", "not_acted": True, "until": T0 + timedelta(hours=1)},
    ),
}

refs = st.dictionaries(
    st.sampled_from(["url", "id", "number", "state", "links", "message_id"]),
    st.one_of(st.text(max_size=8), st.integers(0, 99)),
    max_size=3,
)
errors = st.text(min_size=1, max_size=12)
#: Seconds the clock moves before each operation: always forward, sometimes past a backoff.
ticks = st.integers(min_value=1, max_value=400)
#: What servers ask for, in the range the adapters produce in practice (see
#: ``test_fail_with_an_absurd_retry_after_still_backs_off`` for the far end).
retry_afters = st.one_of(st.none(), st.floats(min_value=0, max_value=900))
policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(min_value=1, max_value=8),
    backoff_seconds=st.lists(st.integers(min_value=1, max_value=600), min_size=1, max_size=4).map(
        tuple
    ),
)


#: How to draw the arguments of each probe in the random walk.
ARG_STRATEGIES: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "start": {},
    "record_ref": {"ref": refs},
    "succeed": {"ref": refs},
    "fail_transient": {
        "error": errors,
        "permanent": st.just(False),
        "retry_after": retry_afters,
    },
    "fail_permanent": {"error": errors, "permanent": st.just(True), "retry_after": st.none()},
    "rearm": {},
    "adopt": {},
    "adopt_found": {"ref": refs},
    "backfill": {},
    "skip": {"reason": errors},
    "wait": {"reason": errors, "not_acted": st.booleans()},
    "wait_until": {
        "reason": errors,
        "not_acted": st.booleans(),
        "until": st.sampled_from([T0 + timedelta(hours=1), T0 + timedelta(days=3)]),
    },
}


def expected(
    op: str, entry: LedgerEntry, now: datetime, policy: RetryPolicy, **args: Any
) -> LedgerEntry | None:
    """The entry ``op`` must produce from ``entry``, or None when the move is forbidden."""
    if entry.state not in LEGAL_FROM[op]:
        return None
    move = dataclasses.replace
    if op == "start":
        return move(
            entry,
            state=S.RUNNING,
            attempts=entry.attempts + 1,
            ref={**entry.ref, ATTEMPTED: True},
            updated_at=now,
        )
    if op == "record_ref":
        return move(entry, ref={**entry.ref, **args["ref"]}, updated_at=now)
    if op == "succeed":
        return move(
            entry,
            state=S.DONE,
            ref={**entry.ref, **args["ref"]},
            last_error="",
            next_attempt_at=None,
            updated_at=now,
        )
    if op == "fail":
        if args["permanent"] or entry.attempts >= policy.max_attempts:
            return move(
                entry,
                state=S.PARKED,
                last_error=args["error"],
                next_attempt_at=None,
                updated_at=now,
            )
        step = policy.backoff_seconds[min(max(entry.attempts, 1), len(policy.backoff_seconds)) - 1]
        retry_after = args["retry_after"]
        wait = step if retry_after is None else max(step, retry_after)
        return move(
            entry,
            state=S.FAILED,
            last_error=args["error"],
            next_attempt_at=now + timedelta(seconds=wait),
            updated_at=now,
        )
    if op == "rearm":
        return move(entry, state=S.PENDING, attempts=0, next_attempt_at=None, updated_at=now)
    if op == "adopt":
        return move(
            entry, state=S.ADOPTED, ref={**entry.ref, **args.get("ref", {})}, updated_at=now
        )
    if op == "backfill":
        return move(entry, state=S.PENDING, updated_at=now)
    if op == "skip":
        return move(entry, state=S.SKIPPED, last_error=args["reason"], updated_at=now)
    if op == "wait":
        return move(
            entry,
            state=S.WAITING,
            attempts=entry.attempts - 1,  # entered from RUNNING only, so attempts >= 1
            last_error=args["reason"],
            ref={**entry.ref, ATTEMPTED: False} if args["not_acted"] else entry.ref,
            next_attempt_at=args.get("until"),
            updated_at=now,
        )
    raise AssertionError(op)


def call(op: str, entry: LedgerEntry, now: datetime, policy: RetryPolicy, **args: Any) -> Any:
    methods: dict[str, Callable[[], LedgerEntry]] = {
        "start": lambda: entry.start(now),
        "record_ref": lambda: entry.record_ref(args["ref"], now),
        "succeed": lambda: entry.succeed(args["ref"], now),
        "fail": lambda: entry.fail(
            args["error"],
            now,
            policy,
            permanent=args["permanent"],
            retry_after=args["retry_after"],
        ),
        "rearm": lambda: entry.rearm(now),
        "adopt": lambda: entry.adopt(now, args.get("ref")),
        "backfill": lambda: entry.backfill(now),
        "skip": lambda: entry.skip(args["reason"], now),
        "wait": lambda: entry.wait(
            args["reason"], now, not_acted=args["not_acted"], until=args.get("until")
        ),
    }
    return methods[op]()


class LedgerMachine(RuleBasedStateMachine):
    """One (item, effect) entry, a clock that only moves forward, and a model of the entry."""

    def __init__(self) -> None:
        super().__init__()
        self.entry = LedgerEntry("4242", "quote_copies")
        self.now = T0
        self.policy = RetryPolicy()
        self.ever_done = False
        #: Every ref ever recorded (record_ref or succeed) merged in order: nothing clears it.
        self.refs: dict[str, Any] = {}
        self.failed_at: datetime | None = None
        self.last_op = "init"

    @initialize(policy=policies)
    def choose_policy(self, policy: RetryPolicy) -> None:
        self.policy = policy

    # ------------------------------------------------------------------ driving

    def apply(self, op: str, tick: int, **args: Any) -> None:
        self.now += timedelta(seconds=tick)
        before = self.entry
        pristine = copy.deepcopy(before)
        want = expected(op, before, self.now, self.policy, **args)
        passed_ref = args.get("ref")

        if want is None:
            with pytest.raises(IllegalTransition):
                call(op, before, self.now, self.policy, **args)
            assert before == pristine, f"a refused {op} changed the entry"
            self.last_op = f"{op} (refused)"
            return

        after = call(op, before, self.now, self.policy, **args)
        assert isinstance(after, LedgerEntry)
        assert after is not before
        assert before == pristine, f"{op} mutated the entry it was called on"
        assert after == want, f"{op} from {before.state}: got {after}, expected {want}"

        # Transition-shape invariants, stated independently of the oracle above.
        assert (before.item_id, before.effect) == (after.item_id, after.effect)
        assert before.state is not S.DONE, "something moved a done effect"
        if after.state is S.RUNNING and before.state is not S.RUNNING:
            assert op == "start", f"{op} entered RUNNING"
        if before.state is S.ADOPTED:
            assert (op, after.state) == ("backfill", S.PENDING)
        if before.state is S.PARKED:
            assert (op, after.state) == ("rearm", S.PENDING)
        if op == "start":
            assert after.attempts == before.attempts + 1
        elif op == "rearm":
            assert after.attempts == 0
        elif op == "wait":
            # A missing input is no attempt: the start's count is taken back.
            assert after.attempts == before.attempts - 1
        else:
            assert after.attempts == before.attempts, f"{op} changed attempts"
        assert after.updated_at == self.now
        assert before.updated_at is None or before.updated_at < after.updated_at

        if op == "succeed":
            assert before.ref.keys() <= after.ref.keys(), "succeed lost a recorded ref"
        if op == "start":
            # The start is recorded before the call, so no later re-arm forgets it happened.
            assert after.ref[ATTEMPTED] is True
            self.refs[ATTEMPTED] = True
        if op == "wait" and args["not_acted"]:
            self.refs[ATTEMPTED] = False
        if passed_ref is not None:
            self.refs.update(passed_ref)
            passed_ref.clear()  # the caller's dict is theirs: the entry must not share it
        if after.state is S.DONE:
            self.ever_done = True
        if op == "fail" and after.state is S.FAILED:
            self.failed_at = self.now
        self.entry = after
        self.last_op = op

    @rule(tick=ticks, data=st.data())
    def attempt(self, tick: int, data: st.DataObject) -> None:
        """Any operation, whatever the state: most are refused, and must change nothing."""
        name = data.draw(st.sampled_from(list(PROBES)), label="operation")
        args = data.draw(st.fixed_dictionaries(ARG_STRATEGIES[name]), label="args")
        self.apply(PROBES[name][0], tick, **args)

    @rule(tick=ticks, data=st.data())
    def progress(self, tick: int, data: st.DataObject) -> None:
        """A move the current state allows, so that walks get deep."""
        legal = [
            name
            for name, (op, _) in PROBES.items()
            # FAILED and WAITING, reached only from RUNNING, are the rarest states
            for _ in range(3 if name in ("fail_transient", "wait") else 1)
            if self.entry.state in LEGAL_FROM[op]
        ]
        if not legal:  # DONE: nothing may move it, which `attempt` and the invariants check
            return
        name = data.draw(st.sampled_from(legal), label="operation")
        args = data.draw(st.fixed_dictionaries(ARG_STRATEGIES[name]), label="args")
        self.apply(PROBES[name][0], tick, **args)

    @rule(tick=st.integers(min_value=1, max_value=3600))
    def wait(self, tick: int) -> None:
        """Time passes with no operation: a failed effect falls due."""
        self.now += timedelta(seconds=tick)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def state_is_known(self) -> None:
        assert isinstance(self.entry.state, EffectState)
        assert self.entry.state in set(EffectState)

    @invariant()
    def attempts_are_sane(self) -> None:
        assert self.entry.attempts >= 0
        if self.entry.state in (S.PENDING, S.ADOPTED):
            assert self.entry.attempts == 0  # reached only fresh, by rearm or by backfill
        if self.entry.state in (S.RUNNING, S.DONE):
            assert self.entry.attempts >= 1

    @invariant()
    def done_is_never_lost(self) -> None:
        if self.ever_done:
            assert self.entry.state is S.DONE
            assert self.entry.last_error == ""
            assert self.entry.next_attempt_at is None
        if self.entry.state is S.DONE:
            pristine = copy.deepcopy(self.entry)
            later = self.now + timedelta(seconds=1)
            for op, args in PROBES.values():
                with pytest.raises(IllegalTransition):
                    call(op, self.entry, later, self.policy, **copy.deepcopy(args))
            assert self.entry == pristine

    @invariant()
    def failed_has_a_future_retry(self) -> None:
        entry = self.entry
        if entry.state is S.FAILED:
            assert entry.next_attempt_at is not None
            assert self.failed_at is not None
            assert entry.next_attempt_at > self.failed_at  # every backoff step is positive
            assert entry.next_attempt_at >= self.failed_at + timedelta(
                seconds=min(self.policy.backoff_seconds)
            )
            assert 1 <= entry.attempts < self.policy.max_attempts
            assert entry.last_error
        if entry.state in (S.PARKED, S.DONE, S.PENDING):
            assert entry.next_attempt_at is None
        if entry.state in (S.PARKED, S.WAITING):
            assert entry.last_error

    @invariant()
    def is_due_follows_the_state(self) -> None:
        entry = self.entry
        due = entry.is_due(self.now)
        if entry.state in (S.PENDING, S.RUNNING):
            assert due is True
        elif entry.state is S.WAITING:
            # Every cycle, or not before the time the effect asked to look again.
            assert due is (entry.next_attempt_at is None or entry.next_attempt_at <= self.now)
        elif entry.state is S.FAILED:
            assert entry.next_attempt_at is not None
            assert due is (entry.next_attempt_at <= self.now)
            assert entry.is_due(entry.next_attempt_at) is True
            assert entry.is_due(entry.next_attempt_at - timedelta(microseconds=1)) is False
        else:
            assert entry.state in (S.DONE, S.PARKED, S.ADOPTED, S.SKIPPED)
            assert due is False
            assert entry.is_due(self.now + timedelta(days=3650)) is False

    @invariant()
    def refs_are_kept(self) -> None:
        assert dict(self.entry.ref) == self.refs

    @invariant()
    def entries_are_frozen(self) -> None:
        with pytest.raises(dataclasses.FrozenInstanceError):
            self.entry.state = S.DONE  # type: ignore[misc]


LedgerMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the work tree; failures print their steps
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerStateMachine = LedgerMachine.TestCase


# ---------------------------------------------------------------------- every (state, op) pair

POLICY = RetryPolicy(max_attempts=3, backoff_seconds=(60, 300))


def entry_in(state: EffectState) -> LedgerEntry:
    fresh = LedgerEntry("4242", "folder")
    running = fresh.start(T0)
    return {
        S.PENDING: fresh,
        S.RUNNING: running,
        S.DONE: running.succeed({"id": "F1"}, T0),
        S.FAILED: running.fail("503", T0, POLICY),
        S.PARKED: running.fail("404", T0, POLICY, permanent=True),
        S.ADOPTED: fresh.adopt(T0),
        S.SKIPPED: fresh.skip("gone", T0),
        S.WAITING: running.wait("no folder link on the item", T0, not_acted=True),
    }[state]


@pytest.mark.parametrize("probe", list(PROBES))
@pytest.mark.parametrize("state", list(EffectState), ids=str)
def test_every_operation_from_every_state(state: EffectState, probe: str) -> None:
    """The exhaustive table, so no pair depends on the random walk reaching it."""
    op, args = PROBES[probe]
    entry = entry_in(state)
    assert entry.state is state
    pristine = copy.deepcopy(entry)
    now = T0 + timedelta(minutes=5)
    want = expected(op, entry, now, POLICY, **args)
    if want is None:
        with pytest.raises(IllegalTransition):
            call(op, entry, now, POLICY, **args)
    else:
        assert call(op, entry, now, POLICY, **args) == want
    assert entry == pristine


def test_transient_failures_park_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_seconds=(60, 300))
    entry = LedgerEntry("4242", "folder")
    now = T0
    states = []
    for _ in range(3):
        now += timedelta(hours=1)
        entry = entry.start(now).fail("503", now, policy)
        states.append((entry.state, entry.attempts))
    assert states == [(S.FAILED, 1), (S.FAILED, 2), (S.PARKED, 3)]


def test_the_machine_runs_and_reaches_every_state() -> None:
    """Guards the property test itself: a walk that never reached DONE would prove little."""
    seen: set[EffectState] = set()

    class Recording(LedgerMachine):
        @invariant()
        def record(self) -> None:
            seen.add(self.entry.state)

    run_state_machine_as_test(
        Recording,
        settings=settings(
            max_examples=60,
            stateful_step_count=40,
            deadline=None,
            database=None,
            derandomize=True,  # a fixed walk: this checks the generator, not the ledger
        ),
    )
    assert seen == set(EffectState)


@pytest.mark.parametrize("retry_after", [float("inf"), 1e12])
def test_fail_with_an_absurd_retry_after_still_backs_off(retry_after: float) -> None:
    running = LedgerEntry("4242", "folder").start(T0)
    failed = running.fail("429", T0, RetryPolicy(), retry_after=retry_after)
    assert failed.state is S.FAILED
    assert failed.next_attempt_at is not None and failed.next_attempt_at > T0
    assert failed.next_attempt_at - T0 <= MAX_RETRY_AFTER
