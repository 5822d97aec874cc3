"""The runner lock: exclusive per database, freed by process death, honest about losses."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

from leadbridge.adapters.store import lock as lock_module
from leadbridge.adapters.store.lock import (
    ADVISORY_KEY,
    LockHeld,
    NoLock,
    PostgresAdvisoryLock,
    RunnerLock,
    SqliteFileLock,
    _application_name,
)

from .support import PATIENCE, wait_for


@pytest.fixture
def locks() -> Iterator[list[RunnerLock]]:
    made: list[RunnerLock] = []
    yield made
    for lock in made:
        lock.release()


def _two(url: str, locks: list[RunnerLock]) -> tuple[RunnerLock, RunnerLock]:
    first, second = RunnerLock.for_url(url), RunnerLock.for_url(url)
    locks += [first, second]
    return first, second


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'state.db'}"


def test_for_url_picks_the_lock_for_the_database(tmp_path: Path) -> None:
    assert isinstance(RunnerLock.for_url(_sqlite_url(tmp_path)), SqliteFileLock)
    assert isinstance(RunnerLock.for_url("sqlite://"), NoLock)
    assert isinstance(RunnerLock.for_url("sqlite:///:memory:"), NoLock)
    assert isinstance(
        RunnerLock.for_url("postgresql+psycopg://u:pw@db/leadbridge"), PostgresAdvisoryLock
    )
    with pytest.raises(ValueError, match=r"state\.url"):
        RunnerLock.for_url("mysql://db/leadbridge")


def test_sqlite_lock_file_sits_next_to_the_database(tmp_path: Path) -> None:
    lock = RunnerLock.for_url(_sqlite_url(tmp_path))
    assert isinstance(lock, SqliteFileLock)
    assert lock.path == tmp_path / "data" / "state.db.lock"
    assert lock.target == str(tmp_path / "data" / "state.db")


def test_postgres_target_hides_the_password() -> None:
    lock = RunnerLock.for_url("postgresql+psycopg://leadbridge:hunter22@db:5432/state")
    assert "hunter22" not in lock.target
    assert "db:5432/state" in lock.target


def test_lock_held_message_is_shared_by_every_caller() -> None:
    error = LockHeld("/data/leadbridge.db")
    assert (
        str(error) == "another leadbridge process is working on /data/leadbridge.db; nothing done"
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_only_one_holder_until_released(
    backend: str, tmp_path: Path, locks: list[RunnerLock], request: pytest.FixtureRequest
) -> None:
    url = _sqlite_url(tmp_path) if backend == "sqlite" else request.getfixturevalue("postgres_url")
    first, second = _two(url, locks)

    assert first.acquire()
    assert first.is_held()
    assert not second.acquire()
    assert not second.acquire(wait_seconds=1)
    assert not second.is_held()
    assert "another leadbridge process is working on" in str(second.held_error())

    first.release()
    assert not first.is_held()
    assert second.acquire(wait_seconds=PATIENCE)
    assert second.is_held()
    assert not first.acquire()


def test_in_memory_database_needs_no_exclusion(locks: list[RunnerLock]) -> None:
    first, second = _two("sqlite://", locks)
    assert first.acquire() and second.acquire()


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from leadbridge.adapters.store.lock import RunnerLock
    lock = RunnerLock.for_url(sys.argv[1])
    assert lock.acquire(wait_seconds=30)
    print("held", flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_killed_holder_frees_the_lock(
    backend: str, tmp_path: Path, locks: list[RunnerLock], request: pytest.FixtureRequest
) -> None:
    url = _sqlite_url(tmp_path) if backend == "sqlite" else request.getfixturevalue("postgres_url")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        waiting = RunnerLock.for_url(url)
        locks.append(waiting)
        assert not waiting.acquire()
        if backend == "postgres":
            assert f"pid {holder.pid}" in waiting.holder_description()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=PATIENCE)
        assert waiting.acquire(wait_seconds=PATIENCE)
    finally:
        holder.kill()
        holder.wait(timeout=PATIENCE)


@pytest.mark.postgres
def test_postgres_lock_lost_with_its_session_is_noticed(
    postgres_url: str, locks: list[RunnerLock]
) -> None:
    lock, other = _two(postgres_url, locks)
    assert lock.acquire()
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as admin:
            ended = admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :ours"
                ),
                {"ours": _application_name()},
            ).all()
            admin.commit()
        assert ended
    finally:
        engine.dispose()
    assert not lock.is_held()
    assert other.acquire(wait_seconds=PATIENCE)


# ---------------------------------------------------------------- fencing: epochs and leases


def _url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return _sqlite_url(tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_each_taking_of_the_lock_gets_a_higher_epoch(
    backend: str, tmp_path: Path, locks: list[RunnerLock], request: pytest.FixtureRequest
) -> None:
    first, second = _two(_url(backend, tmp_path, request), locks)
    with pytest.raises(RuntimeError, match="not held"):
        first.lease()

    assert first.acquire()
    lease = first.lease()
    assert lease.epoch == first.epoch
    assert lease.owner == f"{socket.gethostname()}:{os.getpid()}"
    assert lease.held()
    assert first.acquire() and first.epoch == lease.epoch  # still held: the same taking
    first.release()
    assert first.epoch is None
    assert not lease.held()

    assert second.acquire()
    later = second.lease()
    assert later.epoch > lease.epoch
    second.release()
    assert first.acquire()
    assert first.lease().epoch > later.epoch
    # The lease of an earlier taking stays lost although the same lock object holds again.
    assert not lease.held()


_TAKER = textwrap.dedent(
    """
    import sys, time
    from leadbridge.adapters.store.lock import RunnerLock
    lock = RunnerLock.for_url(sys.argv[1])
    assert lock.acquire(wait_seconds=60)
    print(lock.epoch, time.monotonic(), flush=True)
    time.sleep(float(sys.argv[2]))
    lock.release()
    """
)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_epochs_rise_across_processes_and_restarts(
    backend: str, tmp_path: Path, locks: list[RunnerLock], request: pytest.FixtureRequest
) -> None:
    url = _url(backend, tmp_path, request)
    here = RunnerLock.for_url(url)
    locks.append(here)

    def take_here() -> int:
        assert here.acquire(wait_seconds=PATIENCE)
        assert here.epoch is not None
        epoch = here.epoch
        here.release()
        return epoch

    def take_in_a_process(hold: float = 0) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", _TAKER, url, str(hold)], stdout=subprocess.PIPE, text=True
        )

    def epoch_of(process: subprocess.Popen[str]) -> tuple[int, float]:
        out, _ = process.communicate(timeout=PATIENCE)
        assert process.returncode == 0
        epoch, at = out.split()
        return int(epoch), float(at)

    # One after the other, alternating between this process and new ones (restarts).
    sequence = [take_here()]
    for _ in range(2):
        sequence.append(epoch_of(take_in_a_process())[0])
        sequence.append(take_here())
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence), sequence

    # Three processes at once: each gets its own epoch, in the order they got the lock.
    racing = [take_in_a_process(hold=0.3) for _ in range(3)]
    taken = sorted((at, epoch) for epoch, at in map(epoch_of, racing))
    epochs = [epoch for _, epoch in taken]
    assert epochs == sorted(epochs) and len(set(epochs)) == 3, taken
    assert epochs[0] > sequence[-1]


def _advisory_backend(admin: Connection) -> int:
    """The backend that holds the runner lock, as pg_locks shows it."""
    pids = (
        admin.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND objsubid = 1 AND classid::bigint = :hi AND objid::bigint = :lo"
            ),
            {"hi": (ADVISORY_KEY >> 32) & 0xFFFFFFFF, "lo": ADVISORY_KEY & 0xFFFFFFFF},
        )
        .scalars()
        .all()
    )
    assert len(pids) == 1, pids
    return int(pids[0])


@pytest.mark.postgres
def test_a_lease_is_lost_when_its_backend_is_terminated(
    postgres_url: str, locks: list[RunnerLock]
) -> None:
    lock, other = _two(postgres_url, locks)
    assert lock.acquire()
    lease = lock.lease()
    assert lease.held()
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as admin:
            backend = _advisory_backend(admin)
            assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            assert wait_for(lambda: not _session_alive(admin, backend), "the backend to end")
    finally:
        engine.dispose()
    asked = time.monotonic()
    assert not lease.held()
    assert time.monotonic() - asked < 1.0
    assert not lock.is_held() and lock.epoch is None
    assert other.acquire(wait_seconds=PATIENCE)
    assert other.lease().epoch > lease.epoch
    # The first holder does not get its lease back by asking again.
    assert not lease.held()


def _session_alive(admin: Connection, pid: int) -> bool:
    return bool(
        admin.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        ).scalar_one()
    )


@pytest.mark.postgres
def test_held_gives_up_within_its_timeout_when_the_server_stops_answering(
    postgres_url: str, locks: list[RunnerLock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backend that hangs (here: stopped with SIGSTOP, so the kernel still acknowledges
    the query) must not hang the runner: ``held()`` answers False after its deadline."""
    monkeypatch.setattr(lock_module, "HELD_TIMEOUT_SECONDS", 1.0)
    lock = RunnerLock.for_url(postgres_url)
    locks.append(lock)
    assert lock.acquire()
    lease = lock.lease()
    engine = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as admin:
            backend = _advisory_backend(admin)
        try:
            os.kill(backend, signal.SIGSTOP)
        except (PermissionError, ProcessLookupError) as error:
            pytest.skip(f"cannot stop the PostgreSQL backend from here ({error})")
        try:
            asked = time.monotonic()
            assert not lease.held()
            waited = time.monotonic() - asked
        finally:
            os.kill(backend, signal.SIGCONT)
    finally:
        engine.dispose()
    assert 1.0 <= waited < 3.0, waited
    assert not lock.is_held()
