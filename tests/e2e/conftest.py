"""A sandbox per test on a loopback port, and the real CLI pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leadbridge.adapters.store.schema import metadata
from leadbridge.adapters.store.sql import make_engine
from leadbridge.sandbox import Sandbox, SandboxConfig
from tests.e2e.support import Leadbridge
from tests.e2e.test_run_service import Service
from tests.postgres import POSTGRES_ENV
from tests.postgres import postgres_url as worker_postgres_url


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=6) as running:
        yield running
        assert running.errors == [], "the sandbox itself failed:\n" + "\n".join(running.errors)


@pytest.fixture
def leadbridge(sandbox: Sandbox, tmp_path: Path) -> Callable[..., Leadbridge]:
    """``leadbridge(**section_overrides)``: a configuration for this test's sandbox."""

    def configure(**overrides: Any) -> Leadbridge:
        return Leadbridge(sandbox, tmp_path / "leadbridge", overrides)

    return configure


@pytest.fixture
def services() -> Iterator[Callable[[SandboxConfig, dict[str, str]], Service]]:
    """Start ``run`` children; whatever still runs at the end is killed (the advisory lock
    is shared with other tests, so no child may outlive its test)."""
    started: list[Service] = []

    def start(config: SandboxConfig, env: dict[str, str]) -> Service:
        service = Service(config, env)
        started.append(service)
        return service

    yield start
    for service in started:
        service.kill()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """This worker's PostgreSQL database, emptied: replicas and fencing need a real server."""
    url = worker_postgres_url()
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against")
    engine = make_engine(url)
    with engine.begin() as connection:
        metadata.drop_all(connection)
    engine.dispose()
    yield url
