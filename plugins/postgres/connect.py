"""Opening connections to customer databases, with errors an operator can act on.

psycopg's messages are precise but long and may echo connection details; every failure here is
turned into one line naming the host, port, database and user, never the password.
"""

from __future__ import annotations

import re
import time
from typing import Any

import psycopg

from santokit.core.errors import ConnectionFailed
from santokit.core.redact import redact_url

CONNECT_TIMEOUT_S = 5


def _reason(message: str) -> str:
    text = message.lower()
    if "password authentication failed" in text or "authentication failed" in text:
        return "authentication failed"
    if "no password supplied" in text:
        return "authentication failed: the URL has no password"
    if m := re.search(r'database "([^"]+)" does not exist', message):
        return f'database "{m.group(1)}" does not exist'
    if "connection refused" in text:
        return "connection refused"
    if "could not translate host name" in text or "name or service not known" in text:
        return "unknown host"
    if "timeout expired" in text or "timed out" in text:
        return f"timed out after {CONNECT_TIMEOUT_S} s"
    if "connection option" in text or "invalid connection" in text:
        return "the database URL is malformed"
    if m := re.search(r'role "([^"]+)" does not exist', message):
        return f'role "{m.group(1)}" does not exist'
    return "the server refused the connection"


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A session with the settings every Santokit query assumes (UTC, no JIT)."""
    try:
        conn = psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="santokit",
        )
    except psycopg.ProgrammingError:
        raise ConnectionFailed("could not connect: the database URL is malformed") from None
    except psycopg.OperationalError as exc:
        raise ConnectionFailed(
            f"could not connect to {redact_url(url)}: {_reason(str(exc))}"
        ) from None
    try:
        with conn.cursor() as cur:
            cur.execute("set jit = off; set timezone = 'UTC'; set standard_conforming_strings = on")
        if not autocommit:
            conn.commit()
    except psycopg.Error:
        conn.close()
        raise
    return conn


def test_connection(url: str) -> dict[str, Any]:
    """``{serverVersion, latencyMs}`` when the database answers, else ConnectionFailed."""
    start = time.perf_counter()
    with connect(url, autocommit=True) as conn:
        version = conn.execute("select current_setting('server_version')").fetchone()
    latency = (time.perf_counter() - start) * 1000
    return {
        "ok": True,
        "serverVersion": version[0] if version else "",
        "latencyMs": round(latency, 1),
    }
