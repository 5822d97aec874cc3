"""The runner lock: exclusive per database, freed by process death, honest about losses."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from leadbridge.adapters.store.lock import (
    LockHeld,
    NoLock,
    PostgresAdvisoryLock,
    RunnerLock,
    SqliteFileLock,
    _application_name,
)

from .support import PATIENCE


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
