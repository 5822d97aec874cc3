"""``leadbridge check`` on the state database: reachable, writable, a schema this code knows,
a runner lock that can be taken, and the HTTP port; asked without changing the database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from leadbridge.adapters.store import schema
from leadbridge.adapters.store.check import StoreCheck, check_store
from leadbridge.adapters.store.sql import SqlStateStore, make_engine
from leadbridge.bootstrap import _port_finding
from leadbridge.settings import Settings

from .support import PATIENCE
from .test_lock import _HOLDER


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'leadbridge.db'}"


def _made(url: str) -> None:
    SqlStateStore.open(url, "1140216585").close()


def _facts(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    select(func.count()).select_from(schema.board_facts)
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_a_database_not_made_yet_is_fine_and_is_not_made(tmp_path: Path) -> None:
    found = check_store(_sqlite(tmp_path))

    [database, lock] = found.findings
    assert database.ok and "not created yet" in database.detail
    assert lock.ok and "free" in lock.detail
    assert not (tmp_path / "leadbridge.db").exists()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_current_database_is_reachable_and_writable_and_keeps_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _sqlite(tmp_path) if backend == "sqlite" else request.getfixturevalue("postgres_url")
    _made(url)
    before = _facts(url)

    found = check_store(url)

    assert [(f.what.split(" ")[0], f.ok) for f in found.findings] == [
        ("database", True),
        ("writable", True),
        ("runner", True),
    ]
    assert f"schema version {schema.LATEST} (current)" in found.findings[0].detail
    assert "rolled back" in found.findings[1].detail
    assert _facts(url) == before
    assert not found.lock_held_elsewhere


def test_a_database_of_a_newer_leadbridge_fails_the_check(tmp_path: Path) -> None:
    url = _sqlite(tmp_path)
    _made(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            schema.schema_version.insert().values(
                version=schema.LATEST + 1,
                description="from the future",
                applied_at=datetime.now(UTC),
            )
        )
    engine.dispose()

    [database, *_] = check_store(url).findings

    assert not database.ok
    assert f"schema version {schema.LATEST + 1}, written by a newer leadbridge" in database.detail
    assert "run the newer leadbridge" in database.fix


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes anything")
def test_a_read_only_database_fails_the_write(tmp_path: Path) -> None:
    url = _sqlite(tmp_path)
    _made(url)
    for path in tmp_path.iterdir():
        path.chmod(0o444)
    try:
        findings = {f.what: f for f in check_store(url).findings}
    finally:
        for path in tmp_path.iterdir():
            path.chmod(0o644)

    assert not findings["writable"].ok
    assert "a test write was refused" in findings["writable"].detail


def test_an_unreachable_server_is_named_with_the_fix() -> None:
    url = "postgresql+psycopg://leadbridge:hunter22@127.0.0.1:1/state"

    found = check_store(url)

    [database] = found.findings
    assert not database.ok and "cannot be reached" in database.detail
    assert "hunter22" not in database.what + database.detail + database.fix
    assert "state.url" in database.fix


def test_a_lock_held_by_a_running_leadbridge_is_said_not_failed(tmp_path: Path) -> None:
    url = _sqlite(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"

        found = check_store(url)

        lock = found.findings[-1]
        assert lock.ok and lock.detail.startswith("held now by the process holding")
        assert found.lock_held_elsewhere
    finally:
        holder.kill()
        holder.wait(timeout=PATIENCE)


def test_the_http_port_in_use_fails_unless_the_running_leadbridge_holds_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = Settings(service={"http_host": "127.0.0.1", "http_port": port})

        alone = _port_finding(settings, StoreCheck())
        beside_the_service = _port_finding(settings, StoreCheck(lock_held_elsewhere=True))

    assert not alone.ok
    assert f"service.http_port: cannot listen on 127.0.0.1:{port}" in alone.detail
    assert "free port" in alone.fix
    assert beside_the_service.ok and "another leadbridge holds the runner lock" in (
        beside_the_service.detail
    )
    assert _port_finding(settings, StoreCheck()).ok  # free again once closed
