"""Fixtures for the service runtime: PostgreSQL when available, isolated global logging,
and a handle on ``fake_run.py`` subprocesses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.postgres import POSTGRES_ENV
from tests.postgres import postgres_url as worker_postgres_url

from .support import FakeRun


@pytest.fixture
def postgres_url() -> str:
    url = worker_postgres_url()
    if not url:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against")
    return url


@pytest.fixture
def fake_runs() -> Iterator[Callable[..., FakeRun]]:
    started: list[FakeRun] = []

    def start(journal: Path, **args: Any) -> FakeRun:
        run = FakeRun(journal, **args)
        started.append(run)
        return run

    yield start
    for run in started:
        run.stop()
