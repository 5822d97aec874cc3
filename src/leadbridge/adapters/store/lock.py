"""One acting process per state database.

Two processes acting on one board would both see an item as "not done yet" and both create
its folder. The ledger's lookup-before-create makes most of that harmless, but not all of it
(two e-mails sent in the same second), so only the holder of this lock runs effects.

SQLite: an ``flock`` on ``<database>.lock`` next to the file; the kernel drops it when the
process dies. PostgreSQL: a session-level advisory lock held by a dedicated connection; the
server drops it when that session ends, including when the process is killed. Session locks
do not survive a transaction-mode pooler (pgbouncer): point the URL at the server itself.

The lock is fenced. A PostgreSQL session can end under a live process (a failover,
``pg_terminate_backend``), and the process notices only when it next asks; meanwhile a standby
has taken the lock. So each taking of the lock raises a counter in the state database (the
epoch, in ``runner_epoch``), and the holder's ``lease()`` carries that epoch onto every ledger
row it starts: a row of another epoch that is still ``running`` may be in flight in a holder
that lost the lock, and is left alone for a while instead of being done a second time (see
``domain.decide``). The lease's ``held()`` is asked before every effect, so a holder that lost
the lock starts nothing new; for PostgreSQL it is one small query with a deadline of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import socket
import threading
import time
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import filelock
from sqlalchemy import create_engine, func, text, update
from sqlalchemy import select as sql_select
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from leadbridge.adapters.store import schema
from leadbridge.adapters.store.sql import make_engine, migrate_schema
from leadbridge.domain.ports import Lease
from leadbridge.exits import EXIT_BUSY, CannotStart

#: Advisory locks are scoped to one database, so a constant key is enough; it is derived
#: from a name so that it cannot collide with small integers other software likes to use.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"leadbridge runner").digest()[:8], "big", signed=True)
_POLL_SECONDS = 0.5
# pg_locks shows a bigint advisory key as two unsigned 32-bit halves.
_KEY_PARTS = {"hi": (ADVISORY_KEY >> 32) & 0xFFFFFFFF, "lo": ADVISORY_KEY & 0xFFFFFFFF}
_OUR_LOCK = (
    "l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.classid::bigint = :hi AND l.objid::bigint = :lo"
)
#: Whether this session holds the lock, with the key inlined: it is sent through libpq
#: directly (see ``_held_within``), which takes no bound parameters here.
_HELD_QUERY = (
    "SELECT count(*) FROM pg_locks l WHERE "
    + _OUR_LOCK.replace(":hi", str(_KEY_PARTS["hi"])).replace(":lo", str(_KEY_PARTS["lo"]))
    + " AND l.pid = pg_backend_pid()"
).encode()
#: The longest ``is_held`` waits for the server. An answer that does not come in time (the
#: server stopped, the network dropped) counts as the lock lost: the session is let go.
HELD_TIMEOUT_SECONDS = 5.0
#: Server-side bound on any statement of the lock's session, and the TCP settings that make a
#: dead peer an error instead of a hang (ignored on Unix sockets).
_SESSION_OPTIONS = "-c statement_timeout=10000"
_TCP_ARGS: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 10000,
}


def process_owner() -> str:
    """``host:pid``: the owner recorded on the rows a lease starts (``owner_alive`` reads it)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def take_epoch(connection: Connection, owner: str) -> int:
    """Raise the runner epoch by one and return it; the caller holds the runner lock."""
    table = schema.runner_epoch
    now = datetime.now(UTC)
    epoch = connection.execute(
        update(table)
        .where(table.c.id == schema.RUNNER_EPOCH_ROW)
        .values(epoch=table.c.epoch + 1, owner=owner, taken_at=now)
        .returning(table.c.epoch)
    ).scalar_one_or_none()
    if epoch is None:
        # The row was removed by hand: start above every epoch the ledger names.
        highest = connection.execute(
            sql_select(func.coalesce(func.max(schema.ledger.c.epoch), 0))
        ).scalar_one()
        epoch = int(highest) + 1
        connection.execute(
            table.insert().values(
                id=schema.RUNNER_EPOCH_ROW, epoch=epoch, owner=owner, taken_at=now
            )
        )
    return int(epoch)


def _migrate(url: str) -> None:
    """The schema the epoch counter lives in, brought up to date as the store would do it
    (the lock is taken before any store has opened the database)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            migrate_schema(connection)
    finally:
        engine.dispose()


class LockHeld(CannotStart):
    """Another process holds the runner lock; the text is what operators are shown."""

    exit_code = EXIT_BUSY

    def __init__(self, target: str, holder: str = "") -> None:
        self.target = target
        self.holder = holder
        detail = f" ({holder})" if holder else ""
        super().__init__(f"another leadbridge process is working on {target}{detail}; nothing done")


class RunnerLock(ABC):
    """Exclusive right to act on one state database, held until ``release`` or process exit."""

    #: The epoch this process took with the lock; None while it does not hold it.
    _epoch: int | None = None

    @staticmethod
    def for_url(url: str) -> RunnerLock:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file::memory:"):
                return NoLock()
            return SqliteFileLock(Path(database))
        if parsed.get_backend_name() == "postgresql":
            return PostgresAdvisoryLock(parsed)
        raise ValueError(
            f"state.url: no runner lock for {parsed.get_backend_name()!r}. "
            "Fix: use a sqlite:/// or postgresql+psycopg:// URL"
        )

    @property
    @abstractmethod
    def target(self) -> str:
        """The database, named for people and without credentials."""

    @abstractmethod
    def acquire(self, wait_seconds: float = 0) -> bool:
        """Take the lock, waiting up to ``wait_seconds``; True if this process now holds it."""

    @abstractmethod
    def release(self) -> None: ...

    @abstractmethod
    def is_held(self) -> bool:
        """Whether the lock is still ours; a dropped PostgreSQL session silently loses it."""

    @abstractmethod
    def probe(self) -> bool:
        """Take the lock and let it go at once, for ``leadbridge check``: whether a process
        could start now (False: another holds it). Unlike ``acquire`` it takes no epoch and
        migrates nothing, so checking changes nothing in the database."""

    @property
    def epoch(self) -> int | None:
        """The epoch taken with the lock now held (None when not held)."""
        return self._epoch

    def lease(self) -> Lease:
        """The lock as the next cycle acts under it: its epoch, this process, and ``held``,
        which is True only while this same taking of the lock is still held."""
        epoch = self._epoch
        if epoch is None:
            raise RuntimeError("the runner lock is not held: take it before asking for a lease")

        def held() -> bool:
            return self._epoch == epoch and self.is_held()

        return Lease(epoch=epoch, owner=process_owner(), held=held)

    def holder_description(self) -> str:
        """Who holds the lock, as far as can be told, for the standby message."""
        return "another process"

    def held_error(self) -> LockHeld:
        return LockHeld(self.target, self.holder_description())


class NoLock(RunnerLock):
    """An in-memory database belongs to one process: there is nobody to exclude."""

    def __init__(self) -> None:
        self._held = False
        self._taken = 0

    @property
    def target(self) -> str:
        return "an in-memory database"

    def acquire(self, wait_seconds: float = 0) -> bool:
        if not self._held:
            # The database lives and dies with this process, and so does its epoch count.
            self._taken += 1
            self._epoch = self._taken
        self._held = True
        return True

    def release(self) -> None:
        self._held = False
        self._epoch = None

    def is_held(self) -> bool:
        return self._held

    def probe(self) -> bool:
        return True


class SqliteFileLock(RunnerLock):
    def __init__(self, database: Path) -> None:
        self.database = database.absolute()
        self.path = self.database.with_name(self.database.name + ".lock")
        # Not thread-local: the scheduler thread takes the lock and the main thread frees it.
        self._lock = filelock.FileLock(self.path, thread_local=False)

    @property
    def target(self) -> str:
        return str(self.database)

    def acquire(self, wait_seconds: float = 0) -> bool:
        if self._lock.is_locked:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=wait_seconds, poll_interval=_POLL_SECONDS)
        except filelock.Timeout:
            return False
        try:
            self._epoch = self._take_epoch()
        except BaseException:
            self._lock.release(force=True)
            raise
        return True

    def _take_epoch(self) -> int:
        engine = make_engine(f"sqlite:///{self.database}")
        try:
            with engine.begin() as connection:
                migrate_schema(connection)
                return take_epoch(connection, process_owner())
        finally:
            engine.dispose()

    def release(self) -> None:
        self._epoch = None
        if self._lock.is_locked:
            self._lock.release(force=True)

    def is_held(self) -> bool:
        return self._lock.is_locked

    def probe(self) -> bool:
        if self._lock.is_locked:
            return True
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            return False
        self._lock.release(force=True)
        return True

    def holder_description(self) -> str:
        return f"the process holding {self.path}"


class PostgresAdvisoryLock(RunnerLock):
    def __init__(self, url: URL) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._connection: Connection | None = None
        # The scheduler thread takes and checks the lock, the main thread frees it; one
        # session must not carry two conversations at once.
        self._guard = threading.RLock()

    @property
    def target(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def _connect(self) -> Connection:
        if self._engine is None:
            # AUTOCOMMIT: a session that sat "idle in transaction" for the life of the process
            # could be ended by idle_in_transaction_session_timeout, taking the lock with it.
            self._engine = create_engine(
                self.url,
                poolclass=NullPool,
                isolation_level="AUTOCOMMIT",
                connect_args={
                    "application_name": _application_name(),
                    "connect_timeout": 10,
                    "options": _SESSION_OPTIONS,
                    **_TCP_ARGS,
                },
            )
        return self._engine.connect()

    def acquire(self, wait_seconds: float = 0) -> bool:
        with self._guard:
            if self._connection is not None and self.is_held():
                return True
            deadline = time.monotonic() + wait_seconds
            connection = self._connect()
            try:
                while True:
                    taken = connection.execute(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
                    ).scalar_one()
                    if taken:
                        self._epoch = self._take_epoch(connection)
                        self._connection = connection
                        return True
                    if time.monotonic() >= deadline:
                        connection.close()
                        return False
                    time.sleep(_POLL_SECONDS)
            except BaseException:
                self._epoch = None
                connection.close()  # ending the session frees the lock if it was taken
                raise

    def _take_epoch(self, connection: Connection) -> int:
        """Migrate (the counter lives in the schema), then raise the epoch in the lock's own
        session: if that statement succeeds, the session, and so the lock, was alive."""
        _migrate(self.url.render_as_string(hide_password=False))
        return take_epoch(connection, process_owner())

    def release(self) -> None:
        with self._guard:
            self._epoch = None
            connection, self._connection = self._connection, None
            if connection is None:
                return
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            except SQLAlchemyError:
                pass  # the session is gone, and the lock with it
            finally:
                with contextlib.suppress(SQLAlchemyError):
                    connection.close()

    def is_held(self) -> bool:
        """One query on the lock's session, answered within ``HELD_TIMEOUT_SECONDS``.

        No answer, an error or a "no" all mean the lock is lost: the session is let go (the
        server frees whatever it still held when it sees the session end) and the process
        must take the lock again, under a new epoch, before it acts.
        """
        with self._guard:
            connection = self._connection
            if connection is None:
                return False
            try:
                held = _held_within(connection, HELD_TIMEOUT_SECONDS)
            except Exception:
                held = False
            if not held:
                self._drop_connection()
            return held

    def probe(self) -> bool:
        with self._guard:
            if self._connection is not None:
                return True
            with self._connect() as connection:
                taken = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
                ).scalar_one()
                if taken:
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY}
                    )
            return bool(taken)

    def _drop_connection(self) -> None:
        self._epoch = None
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def holder_description(self) -> str:
        try:
            with self._connect() as connection:
                row = connection.execute(
                    text(
                        "SELECT a.application_name, a.client_addr, a.backend_start "
                        "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        f"WHERE {_OUR_LOCK}"
                    ),
                    _KEY_PARTS,
                ).first()
        except SQLAlchemyError:
            return "another process (the database could not say which)"
        if row is None:
            return "nobody now"
        name, address, since = row
        where = f" from {address}" if address else ""
        return f"{name or 'a session'}{where} since {since:%Y-%m-%d %H:%M:%S %Z}".rstrip()


def _held_within(connection: Connection, seconds: float) -> bool:
    """Ask the lock's own session whether it holds the lock, giving up after ``seconds``.

    Sent through libpq's asynchronous interface (psycopg's public ``pgconn``) rather than
    ``execute``, which would wait for as long as the kernel keeps a dead connection open.
    """
    from psycopg import pq

    pgconn = connection.connection.dbapi_connection.pgconn  # type: ignore[union-attr]
    deadline = time.monotonic() + seconds

    def wait(readable: bool) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"the database did not answer within {seconds:g}s")
        wanted = [pgconn.socket]
        select.select(wanted if readable else [], [] if readable else wanted, [], remaining)

    pgconn.send_query(_HELD_QUERY)
    while pgconn.flush():
        wait(readable=False)
    while True:
        pgconn.consume_input()
        if not pgconn.is_busy():
            break
        wait(readable=True)
    count, failure = None, ""
    while (result := pgconn.get_result()) is not None:
        if result.status == pq.ExecStatus.TUPLES_OK:
            count = int(result.get_value(0, 0) or b"0")
        else:
            failure = (result.error_message or b"").decode(errors="replace")
    if count is None:
        raise ConnectionError(failure or "no answer to the lock check")
    return count > 0


def _application_name() -> str:
    # Shown by holder_description to the replica left in standby, and in pg_stat_activity.
    return f"leadbridge {socket.gethostname()} pid {os.getpid()}"[:63]
