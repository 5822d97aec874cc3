"""Two ``leadbridge run`` replicas on PostgreSQL, and a leader that loses its lock mid-call.

The leader's advisory-lock session is ended with ``pg_terminate_backend`` (what a failover
does to it) while a Drive folder create of the leader is held in flight by the sandbox. The
standby takes the lock within an interval; the leader, alive, finishes the call it had
started. Without fencing, the standby would take the ``running`` row for a dead attempt,
look the folder up (not there yet), create it, and the leader's create would land as a
second folder. With fencing, the standby leaves a row of another lock epoch alone for
``service.takeover_after_seconds``, the leader records what it made and then starts nothing
more, and the standby finishes the rest.

Everything is counted in the sandbox itself (Drive files by tag, e-mails by Message-ID,
issues by marker), and the ledger's reference, the object out there and the link written on
the monday item must all name the same thing.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from leadbridge.adapters.google.drive import EFFECT_KEY, ITEM_KEY
from leadbridge.adapters.store.lock import ADVISORY_KEY
from leadbridge.adapters.store.sql import SqlStateStore
from leadbridge.domain.ledger import LedgerEntry
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.world import BOARD_ID
from tests.e2e.support import LINK_IDS, TEMPLATES, issue_marker
from tests.e2e.test_run_service import (
    EFFECTS,
    Service,
    _all_created,
    _assert_exactly_once,
    _config,
    _env,
    _ledger,
    _move,
    _new_leads,
    _until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


#: How long the sandbox holds the leader's first folder create.
LATENCY_SECONDS = 6.0
#: The test's ``service.takeover_after_seconds``: longer than the held call, so the standby
#: must wait for the leader's outcome, and short enough for the test to end soon.
TAKEOVER_SECONDS = 15
#: How far into the held call the leader's lock session is ended.
TERMINATE_AFTER_SECONDS = 1.5


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=13) as running:
        yield running
        assert running.errors == [], "the sandbox itself failed:\n" + "\n".join(running.errors)


def _lock_backend(url: str, holder_pid: int) -> int:
    """The PostgreSQL backend holding the runner lock, found in pg_locks, and checked to be
    the session of ``holder_pid`` (its application_name names the process)."""
    hi, lo = (ADVISORY_KEY >> 32) & 0xFFFFFFFF, ADVISORY_KEY & 0xFFFFFFFF
    engine = create_engine(url)
    try:
        with engine.connect() as admin:
            rows = admin.execute(
                text(
                    "SELECT l.pid, a.application_name FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                    "AND l.classid::bigint = :hi AND l.objid::bigint = :lo"
                ),
                {"hi": hi, "lo": lo},
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == 1, rows
    pid, name = rows[0]
    assert name == f"leadbridge {socket.gethostname()} pid {holder_pid}"[:63], name
    return int(pid)


def _terminate(url: str, backend: int) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as admin:
            ended = admin.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}
            ).scalar_one()
    finally:
        engine.dispose()
    assert ended is True


def _ledger_rows(url: str) -> dict[tuple[str, str], LedgerEntry]:
    store = SqlStateStore.open(url, BOARD_ID)
    try:
        return {(e.item_id, e.effect): e for e in store.ledger()}
    finally:
        store.close()


def _pairs(service: Service, event: str) -> list[tuple[str, str]]:
    return [(line["item_id"], line["effect"]) for line in service.named(event)]


def _at(line: dict[str, Any]) -> float:
    return datetime.fromisoformat(line["timestamp"]).timestamp()


def _assert_references_agree(
    sandbox: Sandbox, rows: dict[tuple[str, str], LedgerEntry], items: list[str]
) -> None:
    """For each item: the one folder, copy and issue out there is the one the ledger names,
    and the one the item's link column shows."""
    snapshot = sandbox.state.snapshot()
    files: dict[tuple[str, str], list[str]] = {}
    for file in snapshot["drive"]["files"]:
        tag = file["appProperties"]
        if not file["trashed"] and ITEM_KEY in tag:
            effect, _, template = tag[EFFECT_KEY].partition(":")
            files.setdefault((tag[ITEM_KEY], template or effect), []).append(file["id"])
    issues: dict[str, list[int]] = {}
    for repo in snapshot["github"]["repos"]:
        for issue in repo["issues"]:
            if marker := issue_marker(issue["body"]):
                issues.setdefault(marker, []).append(issue["number"])
    (board,) = snapshot["monday"]["boards"]
    links = {
        item["id"]: {
            name: (item["values"].get(column) or {}).get("url") for name, column in LINK_IDS.items()
        }
        for item in board["items"]
    }
    for item in items:
        folder = rows[(item, "lead_folder")].ref
        assert files[(item, "lead_folder")] == [folder["file_id"]]
        assert links[item]["lead_folder"] == folder["url"]
        assert folder["url"].endswith(folder["file_id"])
        copies = rows[(item, "quote_copies")].ref
        for template in TEMPLATES:
            assert files[(item, template)] == [copies[template]["file_id"]]
            assert links[item][template] == copies[template]["url"]
            assert copies[template]["file_id"] in copies[template]["url"]
        hub = rows[(item, "hub_issue")].ref
        assert issues[item] == [hub["number"]]
        assert links[item]["hub_issue"] == hub["url"]


def test_a_leader_that_loses_its_lock_mid_create_is_not_doubled_by_the_standby(
    sandbox: Sandbox,
    tmp_path: Path,
    services: Callable[..., Service],
    postgres_url: str,
    record_property: Callable[[str, object], None],
) -> None:
    items = _new_leads(sandbox, 2)
    config = _config(
        sandbox,
        tmp_path,
        state_url=postgres_url,
        service={"takeover_after_seconds": TAKEOVER_SECONDS},
    )
    leader = services(config, _env(config))
    leader.wait_event("cycle_finished")  # meets the board: no status yet, nothing adopted
    standby = services(config, _env(config))
    _until(
        lambda: standby.health()[1].get("role") == "standby",
        "the second replica to stand by",
        leader,
        standby,
    )

    # The first folder create is held by the "server": in flight when the session dies.
    held = sandbox.faults.add("drive", "files.create", "latency", seconds=LATENCY_SECONDS)
    _move(sandbox, items)
    _until(lambda: held.fired == 1, "a folder create in flight", leader, standby)
    fired_at = time.time()
    in_flight = _pairs(leader, "effect_started")[-1]
    assert in_flight[1] == "lead_folder"
    time.sleep(TERMINATE_AFTER_SECONDS)
    backend = _lock_backend(postgres_url, leader.process.pid)
    assert in_flight not in _pairs(leader, "effect_done"), "the call ended before the kill"
    _terminate(postgres_url, backend)
    terminated_at = time.time()

    acquired = standby.wait_event("runner_lock_acquired")
    _until(lambda: _all_created(sandbox, items), "every effect out there", leader, standby)
    everything_done = {(item, effect): "done" for item in items for effect in EFFECTS}
    _until(
        lambda: _ledger(config) == everything_done, "every effect recorded done", leader, standby
    )
    _until(
        lambda: leader.health()[1].get("role") == "standby",
        "the old leader to stand by",
        leader,
        standby,
    )
    for replica in (leader, standby):
        replica.process.send_signal(signal.SIGTERM)
    assert standby.finish() == 0, standby.output()
    assert leader.finish() == 0, leader.output()

    # Exactly once out there, and the ledger, the object and the monday link agree.
    observed = _assert_exactly_once(sandbox, items)
    rows = _ledger_rows(postgres_url)
    _assert_references_agree(sandbox, rows, items)
    assert sandbox.state.request_count("github", "issues.create") == len(items)

    # The scenario was the one meant: the standby took the lock under a later epoch while
    # the leader's create was in flight, saw the row busy, and left it to the leader, which
    # recorded it and then started nothing more.
    (first_taken,) = leader.named("runner_lock_acquired")
    assert acquired["epoch"] > first_taken["epoch"]
    assert (in_flight[0], "lead_folder") in _pairs(standby, "effect_busy_elsewhere")
    assert in_flight not in _pairs(standby, "effect_started")
    (done_by_leader,) = [
        line
        for line in leader.named("effect_done")
        if (line["item_id"], line["effect"]) == in_flight
    ]
    assert _at(done_by_leader) > terminated_at
    assert leader.named("runner_lock_lost"), leader.output()
    started_after = [line for line in leader.named("effect_started") if _at(line) > terminated_at]
    assert started_after == [], "the leader started an effect after losing the lock"
    assert rows[in_flight].epoch == first_taken["epoch"]
    assert all(e.epoch == acquired["epoch"] for k, e in rows.items() if k[0] != in_flight[0])

    takeover = _at(acquired) - terminated_at
    record_property("takeover_seconds", round(takeover, 2))
    record_property("leader_done_after_kill_seconds", round(_at(done_by_leader) - fired_at, 2))
    print(
        f"\nlock taken over {takeover:.1f}s after pg_terminate_backend; the leader's held "
        f"create ended {_at(done_by_leader) - terminated_at:.1f}s after it; "
        f"busy lines on the standby: {len(standby.named('effect_busy_elsewhere'))}; "
        f"folders={sum(observed.folders.values())} copies={sum(observed.copies.values())} "
        f"mails={sum(observed.mails.values())} issues={sum(observed.issues.values())}"
    )
