"""The PostgreSQL server the tests may use, one database per pytest-xdist worker.

Tests that use it share the server named by LEADBRIDGE_TEST_POSTGRES_URL (``.ci/run`` sets
it). Each worker gets a database of its own (``test_gw0``, ``test_gw1``), so that parallel
tests never drop each other's tables; advisory locks are per database, so the runner-lock
tests of two workers do not meet either.
"""

from __future__ import annotations

import os

import psycopg
from sqlalchemy.engine import make_url

POSTGRES_ENV = "LEADBRIDGE_TEST_POSTGRES_URL"


def postgres_url() -> str | None:
    """This worker's database on the configured server; None when no server is configured."""
    base = os.environ.get(POSTGRES_ENV)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not base or not worker:
        return base or None
    url = make_url(base)
    name = f"{url.database or 'test'}_{worker}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if found.fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)
