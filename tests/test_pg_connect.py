"""Connection tests: one clear line per failure, and never the password."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from santokit.core.errors import ConnectionFailed
from santokit.core.identifiers import POSTGRES_RESERVED
from santokit.plugins.postgres.engine import PostgresEngine

from .pg import rows, with_database

ENGINE = PostgresEngine()
SECRET = "s3cret-Pa55word"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_reachable_database(database) -> None:
    info = ENGINE.test(database)
    assert info.ok is True
    assert info.server_version
    assert info.server == f"PostgreSQL {info.server_version}"
    assert info.latency_ms >= 0
    assert info.to_json()["serverVersion"] == info.server_version


@pytest.mark.parametrize(
    "case", ["refused", "bad password", "no database", "unknown host", "malformed"]
)
def test_failures_are_one_clear_line_without_the_password(pg_admin_url, case: str) -> None:
    parts = urlsplit(pg_admin_url)
    user, host, port = parts.username, parts.hostname, parts.port
    url, expected = {
        "refused": (
            f"postgresql://{user}:{SECRET}@127.0.0.1:{closed_port()}/x",
            "connection refused",
        ),
        "bad password": (
            f"postgresql://{user}:{SECRET}@{host}:{port}/postgres",
            "authentication failed",
        ),
        "no database": (
            with_database(pg_admin_url, "no_such_db"),
            'database "no_such_db" does not exist',
        ),
        "unknown host": (
            f"postgresql://{user}:{SECRET}@stk-no-such-host.invalid:5432/x",
            "unknown host",
        ),
        "malformed": (f"postgresql://{user}:{SECRET}@{host}:notaport/x", "malformed"),
    }[case]
    with pytest.raises(ConnectionFailed) as err:
        ENGINE.test(url)
    message = err.value.message
    assert expected in message
    assert "\n" not in message
    assert SECRET not in message
    assert parts.password not in message
    assert err.value.__cause__ is None  # nothing of psycopg's text travels along


def test_reserved_words_match_the_server(database) -> None:
    server = {
        r[0]
        for r in rows(database, "select word from pg_get_keywords() where catcode in ('R', 'T')")
    }
    assert server == POSTGRES_RESERVED


def test_one_request_shares_its_slot_on_a_database_another_request_is_refused(database) -> None:
    """An apply keeps a session per connection; connections in two namespaces of one database
    must not need two slots (with one slot the run would refuse itself), while a second request
    on another thread still finds the database's only slot taken."""
    import threading

    from santokit.core.errors import ServiceUnavailable
    from santokit.plugins.postgres.connect import DbBounds, session

    bounds = DbBounds(slots=1)
    refused: list[BaseException] = []

    def other_request() -> None:
        try:
            with session(database, bounds=bounds):
                pass
        except ServiceUnavailable as exc:
            refused.append(exc)

    with session(database, bounds=bounds) as first, session(database, bounds=bounds) as second:
        assert first.execute("select 1").fetchone() == (1,)
        assert second.execute("select 2").fetchone() == (2,)
        worker = threading.Thread(target=other_request)
        worker.start()
        worker.join(10)
    assert len(refused) == 1
    assert "1 requests are already working on database" in refused[0].message
    with session(database, bounds=bounds) as again:  # both sessions gave the slot back
        assert again.execute("select 3").fetchone() == (3,)
