"""The state database's part of ``leadbridge check``: reachable, writable, of a schema this
code knows, and a runner lock that can be taken.

Asked without changing the database: one that does not exist yet is not created, the test
write is rolled back, and the lock is taken and let go without raising its epoch (SQLite's
lock is a file beside the database, which the first run would create as well). A lock held
by another process is said, not failed: ``check`` is also run beside a running service (in its
container), which holds it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from leadbridge.adapters.store import schema
from leadbridge.adapters.store.lock import RunnerLock
from leadbridge.adapters.store.sql import make_engine
from leadbridge.domain.ports import CheckFinding

SERVICE = "state"
_REACH_FIX = (
    "check state.url (host, port, database, user; the password in the environment or the "
    "secret file) and that the database server runs and can be reached from here"
)


@dataclass(frozen=True)
class StoreCheck:
    findings: list[CheckFinding] = field(default_factory=list)
    #: Another process holds the runner lock now: a leadbridge runs on this database.
    lock_held_elsewhere: bool = False


def check_store(url: str) -> StoreCheck:
    """The database at ``url`` and its runner lock, as findings."""
    shown = make_url(url).render_as_string(hide_password=True)
    what = f"database {shown}"
    missing = _missing_sqlite_file(url)
    if missing is not None:
        findings = [
            CheckFinding(
                SERVICE,
                what,
                True,
                f"not created yet: the first run creates it in {missing.parent} (writable)",
            )
        ]
    else:
        engine = make_engine(url)
        try:
            findings = [_schema_version(engine, what), _writable(engine)]
        except SQLAlchemyError as error:
            return StoreCheck(
                [
                    CheckFinding(
                        SERVICE, what, False, f"cannot be reached: {_reason(error)}", _REACH_FIX
                    )
                ]
            )
        finally:
            engine.dispose()
    lock = RunnerLock.for_url(url)
    try:
        free = lock.probe()
    except (SQLAlchemyError, OSError) as error:
        findings.append(
            CheckFinding(
                SERVICE,
                "runner lock",
                False,
                f"cannot be taken: {_reason(error)}",
                "make the lock reachable for the user leadbridge runs as (SQLite: a writable "
                "directory beside the database; PostgreSQL: a direct connection, not a "
                "transaction-mode pooler)",
            )
        )
        return StoreCheck(findings)
    if free:
        findings.append(CheckFinding(SERVICE, "runner lock", True, "free: taken and let go"))
        return StoreCheck(findings)
    findings.append(
        CheckFinding(
            SERVICE,
            "runner lock",
            True,
            f"held now by {lock.holder_description()}: another leadbridge works on this "
            "database (a second `run` waits as standby, `sync --once` exits 3)",
        )
    )
    return StoreCheck(findings, lock_held_elsewhere=True)


def _missing_sqlite_file(url: str) -> Path | None:
    """The path of a SQLite database file that does not exist yet (connecting creates it)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None
    path = Path(database).expanduser().absolute()
    return None if path.exists() else path


def _schema_version(engine: Engine, what: str) -> CheckFinding:
    with engine.connect() as connection:
        version = schema.current_version(connection)
    if version > schema.LATEST:
        return CheckFinding(
            SERVICE,
            what,
            False,
            f"schema version {version}, written by a newer leadbridge (this one knows up to "
            f"{schema.LATEST}); running it could damage the database",
            "run the newer leadbridge, or point state.url at another database",
        )
    if version == 0:
        return CheckFinding(
            SERVICE, what, True, "reachable, empty: the first run creates the tables"
        )
    if version < schema.LATEST:
        return CheckFinding(
            SERVICE,
            what,
            True,
            f"reachable, schema version {version}: the next run upgrades it to {schema.LATEST}",
        )
    return CheckFinding(SERVICE, what, True, f"reachable, schema version {version} (current)")


def _writable(engine: Engine) -> CheckFinding:
    """A write the way leadbridge writes, inside a transaction that is rolled back."""
    what = "writable"
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            if inspect(connection).has_table(schema.board_facts.name):
                connection.execute(
                    schema.board_facts.insert().values(
                        name=f"check-{uuid.uuid4().hex[:16]}",
                        value={"written_by": "leadbridge check"},
                        updated_at=datetime.now(UTC),
                    )
                )
            elif connection.dialect.name == "postgresql":
                # An empty database: the first run creates tables, so creating one must work.
                connection.execute(text("CREATE TABLE leadbridge_check_scratch (id integer)"))
            else:
                # SQLite would commit a CREATE TABLE at once; its directory was checked writable.
                return CheckFinding(
                    SERVICE, what, True, "an empty SQLite file in a writable directory"
                )
        except SQLAlchemyError as error:
            return CheckFinding(
                SERVICE,
                what,
                False,
                f"a test write was refused: {_reason(error)}",
                "give the user leadbridge connects as the right to create tables and write rows "
                "(SQLite: write access to the file and its directory)",
            )
        finally:
            transaction.rollback()
    return CheckFinding(SERVICE, what, True, "a test write succeeded and was rolled back")


def _reason(error: BaseException) -> str:
    """The driver's own first line (no SQL, no parameters: they may carry values)."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
