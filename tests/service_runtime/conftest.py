"""Fixtures for the service runtime: PostgreSQL when available, isolated global logging,
and a handle on ``fake_run.py`` subprocesses."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

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
def isolated_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """configure_logging changes process-wide state; put it all back after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)
    structlog.reset_defaults()


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
