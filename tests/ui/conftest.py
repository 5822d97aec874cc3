"""A running sandbox per test, for the tests that drive a real sync cycle."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadbridge.sandbox.server import Sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running
        assert running.errors == [], "the sandbox itself failed:\n" + "\n".join(running.errors)
