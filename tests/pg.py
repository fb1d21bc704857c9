"""Real PostgreSQL for the tests: an embedded server per test worker, or STK_TEST_DATABASE_URL.

Every test gets a database of its own; hypothesis examples get a schema of their own inside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from santokit.plugins.postgres.embedded import POSTGRES_BIN_PATH, EmbeddedPostgres


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A superuser URL on a server this test session may create databases on."""
    given = os.environ.get("STK_TEST_DATABASE_URL")
    if given:
        yield given
        return
    # outside pytest's numbered temp dirs: those rotate, and another pytest session on the same
    # machine must never delete a data directory this session's server still runs on
    root = Path(tempfile.mkdtemp(prefix="stk-test-pg-"))
    server = EmbeddedPostgres(root).start()
    try:
        yield server.url()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database(pg_admin_url: str) -> Iterator[str]:
    """The URL of a fresh, empty database, dropped after the test."""
    name = f"stk_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield with_database(pg_admin_url, name)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def execute(url: str, *statements: str, params: Any = None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql.encode() if params is None else sql, params)


def rows(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for_lock_waiter(url: str, timeout: float = 30.0) -> None:
    """Return once a session of ``url``'s database waits on a lock: a test that holds a lock
    polls for the waiter instead of sleeping and hoping it got there."""
    deadline = time.monotonic() + timeout
    query = (
        "select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
        "and datname = current_database()"
    )
    while time.monotonic() < deadline:
        if rows(url, query)[0][0] > 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"no session waited on a lock within {timeout} s")


def schema_dump(url: str, *, data: bool = False) -> str:
    """``pg_dump --schema-only`` (with ``data``: the rows too): the database as text."""
    done = subprocess.run(
        [
            str(POSTGRES_BIN_PATH / "pg_dump"),
            "--no-owner",
            "--no-privileges",
            *([] if data else ["--schema-only"]),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return "\n".join(ln for ln in done.stdout.splitlines() if not ln.startswith("--"))
