"""Tables of the state database and the versioned migrations that create them.

Migrations are plain functions applied in order and recorded in ``schema_version``, inside one
transaction each, so that upgrading leadbridge upgrades its database with no manual step. A
database newer than the code is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("description", String(200), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
)

board_state = Table(
    "board_state",
    metadata,
    Column("board_id", String(64), primary_key=True),
    Column("first_cycle_at", DateTime(timezone=True), nullable=False),
    Column("watermark", String(200)),
    Column("last_full_read_at", DateTime(timezone=True)),
)

items = Table(
    "items",
    metadata,
    Column("item_id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("url", Text, nullable=False, default=""),
    Column("item_values", JSON, nullable=False),
    Column("present", Boolean, nullable=False, default=True),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

ledger = Table(
    "ledger",
    metadata,
    Column("item_id", String(64), primary_key=True),
    Column("effect", String(100), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("last_error", Text, nullable=False, default=""),
    Column("ref", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True)),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("outcome", String(20), nullable=False),
    Column("summary", JSON, nullable=False),
)

api_usage = Table(
    "api_usage",
    metadata,
    Column("day", Date, primary_key=True),
    Column("service", String(20), primary_key=True),
    Column("requests", Integer, nullable=False, default=0),
    Column("complexity", Integer, nullable=False, default=0),
)


def _initial(connection: Connection) -> None:
    for table in (board_state, items, ledger, runs, api_usage):
        table.create(connection, checkfirst=True)


Migration = tuple[int, str, Callable[[Connection], None]]

#: Append only. Never edit a migration that has shipped: add the next one.
MIGRATIONS: list[Migration] = [
    (1, "board state, item snapshots, effect ledger, run history, API usage", _initial),
]

LATEST = MIGRATIONS[-1][0]


class SchemaTooNew(RuntimeError):
    """The database was written by a newer leadbridge; running older code could corrupt it."""


def current_version(connection: Connection) -> int:
    if not inspect(connection).has_table("schema_version"):
        return 0
    found = connection.execute(select(schema_version.c.version)).scalars().all()
    return max(found, default=0)


def migrate(connection: Connection, now: Callable[[], object]) -> list[int]:
    """Apply every migration newer than the database; returns the versions applied."""
    schema_version.create(connection, checkfirst=True)
    version = current_version(connection)
    if version > LATEST:
        raise SchemaTooNew(
            f"the state database is at schema version {version}, this leadbridge knows up to "
            f"{LATEST}. Fix: run the newer leadbridge, or point state.url at another database"
        )
    applied = []
    for number, description, step in MIGRATIONS:
        if number <= version:
            continue
        step(connection)
        connection.execute(
            schema_version.insert().values(
                version=number, description=description, applied_at=now()
            )
        )
        applied.append(number)
    return applied
