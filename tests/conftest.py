"""Fixtures shared by every test layer: settings from the shipped example, state stores."""

from __future__ import annotations

import compileall
import logging
import os
import sys
import sysconfig
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

import leadbridge
from leadbridge.adapters.store.schema import metadata
from leadbridge.adapters.store.sql import SqlStateStore, make_engine
from leadbridge.settings import Settings, load_settings
from tests.postgres import POSTGRES_ENV, postgres_url

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = REPO / "config" / "leadbridge.example.yaml"
#: What an operator writes in place of each placeholder the example ships (the commands that
#: talk to the services refuse the placeholders; ``settings.placeholders``).
FILLED_IN = {
    "sales@example.org": "sales@2i2c.example",
    "icsi.example.org": "icsi.example",
    "forms.example.org": "forms.2i2c.example",
    "smtp.example.org": "smtp.2i2c.example",
    '"1234567890"': '"4711000001"',
    "0AbCdEfLeadsFolder": "1LeadsFolderOf2i2c",
    "0AbCdEfSharedDrive": "0ASharedDriveOf2i2c",
    "1PricingSheetTemplateId": "1PricingSheetOf2i2c",
    "1PriceQuoteTemplateId": "1PriceQuoteOf2i2c",
}


def filled_example_text() -> str:
    """The example configuration with every placeholder filled in, as a deployment has it."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    for placeholder, value in FILLED_IN.items():
        assert placeholder in text, f"the example no longer has {placeholder}"
        text = text.replace(placeholder, value)
    return text


def pytest_configure(config: pytest.Config) -> None:
    """Byte-compile leadbridge and its libraries once, before any worker starts, as the image
    does at build. With PYTHONDONTWRITEBYTECODE set and a new venv (pip then compiles nothing),
    each of the suite's hundreds of CLI and service subprocesses would compile its ~860
    modules first: about 2.7 s of CPU each instead of 1 s, and slow, timing-sensitive tests."""
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has done it
        return
    package = Path(leadbridge.__file__).parent
    for folder in {package, Path(sysconfig.get_paths()["purelib"])}:
        compileall.compile_dir(folder, quiet=2, workers=0)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: a worker more than there are cores, since the e2e tests mostly wait."""
    return (os.cpu_count() or 1) + 1


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
def secrets_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "monday__token").write_text("monday-test-token")
    (folder / "github__token").write_text("github-test-token")
    return folder


@pytest.fixture
def example_settings(secrets_dir: Path) -> Settings:
    return load_settings(EXAMPLE_CONFIG, secrets_dir=secrets_dir)


@pytest.fixture(params=["sqlite", "postgres"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Every store-backed test runs on SQLite and, where the server is given, PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    url = postgres_url()
    if url is None:
        pytest.skip(f"PostgreSQL not configured: set {POSTGRES_ENV} (as .ci/run does)")
    engine = make_engine(url)
    with engine.begin() as connection:
        metadata.drop_all(connection)
    engine.dispose()
    yield url


@pytest.fixture
def store(state_url: str) -> Iterator[SqlStateStore]:
    opened = SqlStateStore.open(state_url, "1234567890")
    yield opened
    opened.close()
