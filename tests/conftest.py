"""Fixtures for the whole suite: a PostgreSQL server for Optuna's RDB storage (``postgres`` marker).

``make test`` starts a throwaway server (scripts/postgres.sh, via scripts/with_postgres.sh) and exports
its SQLAlchemy URL as ``EDGEOPT_TEST_POSTGRES_URL``. Without it the PostgreSQL tests skip, except on
CI (``CI=true``), which must run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_URL_ENV = "EDGEOPT_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The SQLAlchemy URL of the test server's database (``postgresql+psycopg2://…/edgeopt_test``)."""
    url = os.environ.get(POSTGRES_URL_ENV, "")
    if url:
        return url
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(
            f"{POSTGRES_URL_ENV} is not set on CI, which must run the PostgreSQL tests: "
            "run them through `make test` (scripts/with_postgres.sh) or start a server with "
            f"`bash scripts/postgres.sh start` and export {POSTGRES_URL_ENV}=<the URL it prints>",
            pytrace=False,
        )
    pytest.skip("PostgreSQL not running: `make test` starts one (scripts/postgres.sh)")


@pytest.fixture
def postgres_storage_url(postgres_url: str) -> Iterator[str]:
    """The URL of a fresh, empty database on the test server, dropped after the test.

    One database per test, so no test sees another's Optuna studies (names, trials) or schema.
    """
    psycopg2 = pytest.importorskip("psycopg2", reason="the postgres extra (psycopg2-binary) is not installed")
    from sqlalchemy.engine import make_url

    base = make_url(postgres_url)
    name = f"edgeopt_test_{uuid.uuid4().hex[:16]}"

    def admin():  # autocommit on the maintenance database: CREATE/DROP DATABASE cannot run in a transaction
        conn = psycopg2.connect(
            host=base.host, port=base.port, user=base.username, password=base.password, dbname="postgres"
        )
        conn.autocommit = True
        return conn

    conn = admin()
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        conn = admin()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            conn.close()
