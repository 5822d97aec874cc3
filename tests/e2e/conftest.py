"""A sandbox per test on a loopback port, and the real CLI pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leadbridge.sandbox import Sandbox
from tests.e2e.support import Leadbridge


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
