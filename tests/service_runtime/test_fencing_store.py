"""The state store's side of fencing: ledger rows carry the lock epoch and owner, a write is
conditional on the epoch it read, and a database made before fencing is upgraded in place.

Run on SQLite and, where ``LEADBRIDGE_TEST_POSTGRES_URL`` is set, on PostgreSQL (the
``state_url`` fixture).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
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

from leadbridge.adapters.store import schema
from leadbridge.adapters.store.sql import SqlStateStore, make_engine
from leadbridge.domain.ledger import EffectState, LedgerEntry, RetryPolicy

BOARD = "1234567890"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=1)


def _pending(store: SqlStateStore, effect: str = "lead_folder") -> LedgerEntry:
    entry = LedgerEntry("101", effect)
    assert store.save_entry(entry, None)
    return store.ledger("101")[0]


def _row(store: SqlStateStore, effect: str = "lead_folder") -> LedgerEntry:
    return next(e for e in store.ledger("101") if e.effect == effect)


def test_epoch_and_owner_round_trip(store: SqlStateStore) -> None:
    pending = _pending(store)
    assert (pending.epoch, pending.owner) == (None, "")

    started = pending.start(T0, epoch=7, owner="host-a:4242")
    assert store.save_entry(started, pending)
    assert _row(store) == started
    assert (_row(store).epoch, _row(store).owner) == (7, "host-a:4242")

    # A row inserted already started keeps them too (an insert is not conditional).
    inserted = LedgerEntry("101", "hub_issue").start(T0, epoch=9, owner="host-b:1")
    assert store.save_entry(inserted, None)
    assert _row(store, "hub_issue") == inserted


def test_a_write_expecting_another_epoch_is_refused(store: SqlStateStore) -> None:
    pending = _pending(store)
    started = pending.start(T0, epoch=3, owner="host-a:1")
    assert store.save_entry(started, pending)

    # Same state and attempts as the stored row, but read under another epoch: refused.
    assert not store.save_entry(started.succeed({}, T0), replace(started, epoch=4))
    assert not store.save_entry(started.succeed({}, T0), replace(started, epoch=None))
    assert _row(store) == started
    # The row as it was read: accepted.
    assert store.save_entry(started.succeed({}, T0), started)
    assert _row(store).state is EffectState.DONE


def test_a_row_without_epoch_matches_only_an_expectation_without_epoch(
    store: SqlStateStore,
) -> None:
    pending = _pending(store)
    started = pending.start(T0)  # no lock (a unit of work without a lease)
    assert store.save_entry(started, pending)
    assert _row(store).epoch is None
    assert not store.save_entry(started.succeed({}, T0), replace(started, epoch=1))
    assert store.save_entry(started.succeed({}, T0), started)


def test_a_holder_that_lost_the_lock_cannot_overwrite_the_row_a_later_holder_restarted(
    store: SqlStateStore,
) -> None:
    """The case only the epoch tells apart: the later holder's row has the very state and
    attempts the old holder read, because an operator re-armed it in between."""
    pending = _pending(store)
    old = pending.start(T0, epoch=1, owner="host-a:1")
    assert store.save_entry(old, pending)
    # The old holder's session died; after takeover_after the new holder resumes the row,
    # it fails for good, an operator re-arms it and the new holder starts it again.
    later = T0 + timedelta(minutes=6)
    resumed = old.start(later, epoch=2, owner="host-b:1")
    assert store.save_entry(resumed, old)
    parked = resumed.fail("422", later, POLICY, permanent=True)
    assert store.save_entry(parked, resumed)
    rearmed = parked.rearm(later)
    assert store.save_entry(rearmed, parked)
    again = rearmed.start(later, epoch=2, owner="host-b:1")
    assert store.save_entry(again, rearmed)
    assert (again.state, again.attempts) == (old.state, old.attempts)

    # The old holder's call finally returns: its writes no longer apply.
    assert not store.save_entry(old.record_ref({"file_id": "stale"}, later), old)
    assert not store.save_entry(old.succeed({"file_id": "stale"}, later), old)
    assert _row(store) == again


# ---------------------------------------------------------------- upgrading a database


def _v1_tables() -> MetaData:
    """The tables exactly as migration 1 shipped them, before fencing."""
    v1 = MetaData()
    Table(
        "schema_version",
        v1,
        Column("version", Integer, primary_key=True),
        Column("description", String(200), nullable=False),
        Column("applied_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "board_state",
        v1,
        Column("board_id", String(64), primary_key=True),
        Column("first_cycle_at", DateTime(timezone=True), nullable=False),
        Column("watermark", String(200)),
        Column("last_full_read_at", DateTime(timezone=True)),
    )
    Table(
        "items",
        v1,
        Column("item_id", String(64), primary_key=True),
        Column("name", Text, nullable=False),
        Column("url", Text, nullable=False, default=""),
        Column("item_values", JSON, nullable=False),
        Column("present", Boolean, nullable=False, default=True),
        Column("seen_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "ledger",
        v1,
        Column("item_id", String(64), primary_key=True),
        Column("effect", String(100), primary_key=True),
        Column("state", String(20), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("next_attempt_at", DateTime(timezone=True)),
        Column("last_error", Text, nullable=False, default=""),
        Column("ref", JSON, nullable=False),
        Column("updated_at", DateTime(timezone=True)),
    )
    Table(
        "runs",
        v1,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("finished_at", DateTime(timezone=True)),
        Column("outcome", String(20), nullable=False),
        Column("summary", JSON, nullable=False),
    )
    Table(
        "api_usage",
        v1,
        Column("day", Date, primary_key=True),
        Column("service", String(20), primary_key=True),
        Column("requests", Integer, nullable=False, default=0),
        Column("complexity", Integer, nullable=False, default=0),
    )
    return v1


def _ledger_columns(url: str) -> dict[str, tuple[bool, str]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {
                column["name"]: (column["nullable"], str(column.get("default") or ""))
                for column in inspect(connection).get_columns("ledger")
            }
    finally:
        engine.dispose()


def test_a_database_made_before_fencing_is_upgraded_and_keeps_its_rows(state_url: str) -> None:
    v1 = _v1_tables()
    engine = make_engine(state_url)
    try:
        with engine.begin() as connection:
            v1.create_all(connection)
            connection.execute(
                v1.tables["schema_version"]
                .insert()
                .values(version=1, description="v1", applied_at=T0)
            )
            connection.execute(
                v1.tables["ledger"]
                .insert()
                .values(
                    item_id="101",
                    effect="lead_folder",
                    state="running",
                    attempts=1,
                    last_error="",
                    ref={"attempted": True},
                    updated_at=T0,
                )
            )
    finally:
        engine.dispose()
    assert {"epoch", "owner"}.isdisjoint(_ledger_columns(state_url))

    store = SqlStateStore.open(state_url, BOARD)
    try:
        columns = _ledger_columns(state_url)
        assert columns["epoch"][0] is True
        assert columns["owner"][0] is False
        # The row from before fencing reads as started under no epoch, by nobody known.
        (old,) = store.ledger()
        assert (old.state, old.attempts, old.epoch, old.owner) == (
            EffectState.RUNNING,
            1,
            None,
            "",
        )
        # ... and can be taken over and written like any other.
        resumed = old.start(T0, epoch=1, owner="host-a:1")
        assert store.save_entry(resumed, old)
        assert store.ledger() == [resumed]
        with store.engine.connect() as connection:
            version = max(connection.execute(select(schema.schema_version.c.version)).scalars())
            counter = connection.execute(select(schema.runner_epoch)).all()
        assert version == schema.LATEST
        assert [(row.id, row.epoch) for row in counter] == [(schema.RUNNER_EPOCH_ROW, 0)]
        # Opening again applies nothing more.
        assert store.migrate() == []
    finally:
        store.close()


def test_an_upgraded_ledger_has_the_columns_a_new_database_gets(state_url: str) -> None:
    """Migration 1 creates the ledger from its current definition; the upgrade must arrive
    at the same columns (name, nullability) as a database created new."""
    store = SqlStateStore.open(state_url, BOARD)
    store.close()
    fresh = _ledger_columns(state_url)
    engine = make_engine(state_url)
    try:
        with engine.begin() as connection:
            schema.metadata.drop_all(connection)
            _v1_tables().create_all(connection)
            connection.execute(
                schema.schema_version.insert().values(version=1, description="v1", applied_at=T0)
            )
    finally:
        engine.dispose()
    store = SqlStateStore.open(state_url, BOARD)
    store.close()
    upgraded = _ledger_columns(state_url)
    assert {k: v[0] for k, v in upgraded.items()} == {k: v[0] for k, v in fresh.items()}
    assert set(upgraded) >= {"epoch", "owner"}
