"""One acting process per state database.

Two processes acting on one board would both see an item as "not done yet" and both create
its folder. The ledger's lookup-before-create makes most of that harmless, but not all of it
(two e-mails sent in the same second), so only the holder of this lock runs effects.

SQLite: an ``flock`` on ``<database>.lock`` next to the file; the kernel drops it when the
process dies. PostgreSQL: a session-level advisory lock held by a dedicated connection; the
server drops it when that session ends, including when the process is killed. Session locks
do not survive a transaction-mode pooler (pgbouncer): point the URL at the server itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import time
from abc import ABC, abstractmethod
from pathlib import Path

import filelock
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

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


class LockHeld(Exception):
    """Another process holds the runner lock; the text is what operators are shown."""

    def __init__(self, target: str, holder: str = "") -> None:
        self.target = target
        self.holder = holder
        detail = f" ({holder})" if holder else ""
        super().__init__(f"another leadbridge process is working on {target}{detail}; nothing done")


class RunnerLock(ABC):
    """Exclusive right to act on one state database, held until ``release`` or process exit."""

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

    def holder_description(self) -> str:
        """Who holds the lock, as far as can be told, for the standby message."""
        return "another process"

    def held_error(self) -> LockHeld:
        return LockHeld(self.target, self.holder_description())


class NoLock(RunnerLock):
    """An in-memory database belongs to one process: there is nobody to exclude."""

    def __init__(self) -> None:
        self._held = False

    @property
    def target(self) -> str:
        return "an in-memory database"

    def acquire(self, wait_seconds: float = 0) -> bool:
        self._held = True
        return True

    def release(self) -> None:
        self._held = False

    def is_held(self) -> bool:
        return self._held


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
        return True

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)

    def is_held(self) -> bool:
        return self._lock.is_locked

    def holder_description(self) -> str:
        return f"the process holding {self.path}"


class PostgresAdvisoryLock(RunnerLock):
    def __init__(self, url: URL) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._connection: Connection | None = None

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
                connect_args={"application_name": _application_name(), "connect_timeout": 10},
            )
        return self._engine.connect()

    def acquire(self, wait_seconds: float = 0) -> bool:
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
                    self._connection = connection
                    return True
                if time.monotonic() >= deadline:
                    connection.close()
                    return False
                time.sleep(_POLL_SECONDS)
        except BaseException:
            connection.close()
            raise

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
        except SQLAlchemyError:
            pass  # the session is gone, and the lock with it
        finally:
            connection.close()

    def is_held(self) -> bool:
        if self._connection is None:
            return False
        try:
            return bool(
                self._connection.execute(
                    text(
                        f"SELECT count(*) FROM pg_locks l WHERE {_OUR_LOCK} "
                        "AND l.pid = pg_backend_pid()"
                    ),
                    _KEY_PARTS,
                ).scalar_one()
            )
        except SQLAlchemyError:
            self._drop_connection()
            return False

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(SQLAlchemyError):
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


def _application_name() -> str:
    # Shown by holder_description to the replica left in standby, and in pg_stat_activity.
    return f"leadbridge {socket.gethostname()} pid {os.getpid()}"[:63]
