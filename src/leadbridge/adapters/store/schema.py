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
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
)
from sqlalchemy.schema import CreateColumn

from leadbridge.exits import CannotStart

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
    # Added by migration 3 (fencing); a new database gets them from migration 1 already.
    #: The runner-lock epoch the row was last started under (None: before fencing, or no lock).
    Column("epoch", Integer),
    #: The process ("host:pid") that last started it.
    Column("owner", String(200), nullable=False, default="", server_default=""),
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


#: Small named documents of the board's own bookkeeping: the pipeline last in force, mass
#: actions held for an operator and their confirmations.
board_facts = Table(
    "board_facts",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


#: One row (``id`` 1): the epoch of the runner lock, raised by one each time any process takes
#: the lock, so the rows a holder starts name the holder (see ``adapters.store.lock``).
runner_epoch = Table(
    "runner_epoch",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("epoch", Integer, nullable=False),
    Column("owner", String(200), nullable=False, server_default=""),
    Column("taken_at", DateTime(timezone=True)),
)
RUNNER_EPOCH_ROW = 1


def _initial(connection: Connection) -> None:
    for table in (board_state, items, ledger, runs, api_usage):
        table.create(connection, checkfirst=True)


def _board_facts(connection: Connection) -> None:
    board_facts.create(connection, checkfirst=True)


def _fencing(connection: Connection) -> None:
    # Migration 1 creates ``ledger`` from its current definition, so a database made by it
    # since has the columns already; one made before gets them here.
    present = {column["name"] for column in inspect(connection).get_columns("ledger")}
    for column in (ledger.c.epoch, ledger.c.owner):
        if column.name not in present:
            added = CreateColumn(column).compile(dialect=connection.dialect)
            connection.execute(text(f"ALTER TABLE ledger ADD COLUMN {added}"))
    runner_epoch.create(connection, checkfirst=True)
    if connection.execute(select(runner_epoch.c.id)).first() is None:
        connection.execute(runner_epoch.insert().values(id=RUNNER_EPOCH_ROW, epoch=0, owner=""))


#: History for the status page (migration 4): every status change seen, every effect attempt.
#: Kept ``ui.history_days`` (see ``SqlStateStore.prune_history``).
status_changes = Table(
    "status_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", String(64), nullable=False),
    Column("column_name", String(100), nullable=False),
    Column("old", Text, nullable=False, default=""),
    Column("new", Text, nullable=False, default=""),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Index("ix_status_changes_item", "item_id", "seen_at"),
    Index("ix_status_changes_seen", "seen_at"),
)

effect_attempts = Table(
    "effect_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item_id", String(64), nullable=False),
    Column("effect", String(100), nullable=False),
    Column("attempt", Integer, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("error", Text, nullable=False, default=""),
    Column("summary", Text, nullable=False, default=""),
    Index("ix_effect_attempts_item", "item_id", "finished_at"),
    Index("ix_effect_attempts_finished", "finished_at"),
)


def _history(connection: Connection) -> None:
    for table in (status_changes, effect_attempts):
        table.create(connection, checkfirst=True)


#: Items read from the board whose decisions are not yet all applied (migration 5). A cycle
#: marks what it read here before it moves the watermark and clears each item once its lead
#: is planned and applied, so an incremental cycle that was stopped or killed half way still
#: leaves nothing behind: the next one plans these even though no read returns them again.
unsettled = Table(
    "unsettled",
    metadata,
    Column("item_id", String(64), primary_key=True),
    Column("since", DateTime(timezone=True), nullable=False),
)

#: The due-time index: an incremental cycle asks for the ledger rows that can act without a
#: board change (running, pending, waiting, or failed and due), not for the whole ledger.
ledger_due = Index("ix_ledger_due", ledger.c.state, ledger.c.next_attempt_at)


def _unsettled(connection: Connection) -> None:
    unsettled.create(connection, checkfirst=True)
    ledger_due.create(connection, checkfirst=True)


Migration = tuple[int, str, Callable[[Connection], None]]

#: Append only. Never edit a migration that has shipped: add the next one.
MIGRATIONS: list[Migration] = [
    (1, "board state, item snapshots, effect ledger, run history, API usage", _initial),
    (2, "board facts: the pipeline in force, held mass actions", _board_facts),
    (3, "fencing: ledger epoch and owner, runner lock epoch", _fencing),
    (4, "history: status changes and effect attempts, for the status page", _history),
    (
        5,
        "unsettled items and the ledger's due-time index: cycles that scale with change",
        _unsettled,
    ),
]

LATEST = MIGRATIONS[-1][0]


class SchemaTooNew(CannotStart):
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
