"""Opening connections to customer databases, with errors an operator can act on.

psycopg's messages are precise but long and may echo connection details; every failure here is
turned into one line naming the host, port, database and user, never the password.

Every wait on a customer database is bounded (``DbBounds``): the connect, each statement on the
server (``statement_timeout``, ``lock_timeout``, ``idle_in_transaction_session_timeout``), the TCP
link (keepalives and ``tcp_user_timeout``), and each wait of the client on the socket. The last
one matters when the server cannot answer at all (a stopped process, a tarpit that accepted the
connection): no server-side timeout fires then, so the client gives up on the connection itself.
Work on one database also takes one of a few slots of that database, so a silent database holds
at most that many Hub workers.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict

from santokit.core.errors import Conflict, ConnectionFailed, ServiceUnavailable, UsageError
from santokit.core.redact import redact_url


@dataclass(frozen=True)
class DbBounds:
    """How long the Hub waits on a customer database, each read from ``STK_HUB_DB_*``."""

    connect_s: float = 5.0  # STK_HUB_DB_CONNECT_TIMEOUT_S: TCP + TLS + login
    statement_s: float = 30.0  # STK_HUB_DB_STATEMENT_TIMEOUT_S: each read (plan, drift, test)
    apply_statement_s: float = 300.0  # STK_HUB_DB_APPLY_STATEMENT_TIMEOUT_S: each DDL statement
    lock_s: float = 5.0  # STK_HUB_DB_LOCK_TIMEOUT_S: each wait for a table lock during apply
    idle_s: float = 60.0  # STK_HUB_DB_IDLE_TIMEOUT_S: idle in transaction (server-side)
    apply_lock_wait_s: float = 10.0  # STK_HUB_DB_APPLY_LOCK_WAIT_S: the apply advisory lock
    tcp_s: float = 30.0  # STK_HUB_DB_TCP_TIMEOUT_S: a dead peer, found by keepalives
    grace_s: float = 5.0  # STK_HUB_DB_WATCHDOG_GRACE_S: past a statement's bound, client-side
    slots: int = 4  # STK_HUB_DB_SLOTS: concurrent requests of this Hub on one database

    ENV: ClassVar[dict[str, str]] = {
        "connect_s": "STK_HUB_DB_CONNECT_TIMEOUT_S",
        "statement_s": "STK_HUB_DB_STATEMENT_TIMEOUT_S",
        "apply_statement_s": "STK_HUB_DB_APPLY_STATEMENT_TIMEOUT_S",
        "lock_s": "STK_HUB_DB_LOCK_TIMEOUT_S",
        "idle_s": "STK_HUB_DB_IDLE_TIMEOUT_S",
        "apply_lock_wait_s": "STK_HUB_DB_APPLY_LOCK_WAIT_S",
        "tcp_s": "STK_HUB_DB_TCP_TIMEOUT_S",
        "grace_s": "STK_HUB_DB_WATCHDOG_GRACE_S",
        "slots": "STK_HUB_DB_SLOTS",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DbBounds:
        """The defaults, overridden by each variable that is set; a bad value is a UsageError."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for attr, var in cls.ENV.items():
            raw = environ.get(var, "").strip()
            if not raw:
                continue
            try:
                value = int(raw) if attr == "slots" else float(raw)
            except ValueError:
                value = -1
            if not 0 < value < 86_400 or not math.isfinite(value):
                kind = "a whole number" if attr == "slots" else "a number of seconds"
                raise UsageError(f"{var} must be {kind} above 0 (and under a day), not {raw!r}")
            values[attr] = value
        return cls(**values)

    def watchdog_s(self, statement_s: float) -> float:
        """How long the client waits on one statement before it gives the connection up."""
        return statement_s + self.grace_s


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait on the socket ends after ``wait_s``.

    psycopg runs every statement, fetch, commit and rollback through ``wait()``; bounding it
    here bounds them all, whatever code issues the query. When the bound passes the session is
    in an unknown state, so it is closed: nothing half-done is left behind (an open transaction
    dies with the session, and its advisory lock with it).
    """

    wait_s: float = 35.0

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        try:
            return super().wait(gen, interval, self.wait_s if timeout is None else timeout)
        except pg_errors.OperationalError as exc:
            if type(exc).__name__ == "_WaitTimeout":  # psycopg's own wait-timeout class
                self.pgconn.finish()
                raise Silent(f"no answer within {self.wait_s:g} s") from None
            raise


class Silent(pg_errors.OperationalError):
    """The server stopped answering on an open connection; the connection has been closed."""


def _reason(message: str, bounds: DbBounds) -> str:
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
        return f"timed out after {_connect_timeout(bounds)} s"
    if "connection option" in text or "invalid connection" in text:
        return "the database URL is malformed"
    if m := re.search(r'role "([^"]+)" does not exist', message):
        return f'role "{m.group(1)}" does not exist'
    return "the server refused the connection"


def _connect_timeout(bounds: DbBounds) -> int:
    return max(2, math.ceil(bounds.connect_s))  # libpq's unit is whole seconds, at least 2


def target(url: str) -> tuple[str, str, str]:
    """(host, port, database) a URL points at: the key of the database's slots."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return ("", "", url)
    return (
        str(params.get("host") or params.get("hostaddr") or ""),
        str(params.get("port") or "5432"),
        str(params.get("dbname") or params.get("user") or ""),
    )


_SLOTS: dict[tuple[str, str, str], threading.BoundedSemaphore] = {}
_SLOTS_GUARD = threading.Lock()
_HELD = threading.local()  # per worker thread: the slots it holds, with how many sessions each


@contextmanager
def slot(url: str, bounds: DbBounds) -> Iterator[None]:
    """One of the ``bounds.slots`` slots this process has on the URL's database, had at once or
    SERVICE_UNAVAILABLE: a request never queues behind a database that hangs.

    A slot is per request, not per session: a request runs on one worker thread, and the
    sessions it opens on a database it already holds a slot of (an apply keeps one per
    connection, and several connections may share a database) share that slot."""
    key = target(url)
    held: dict[tuple[str, str, str], int] = _HELD.__dict__.setdefault("held", {})
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    with _SLOTS_GUARD:
        sem = _SLOTS.setdefault(key, threading.BoundedSemaphore(bounds.slots))
    if not sem.acquire(blocking=False):
        host, port, db = key
        raise ServiceUnavailable(
            f"{bounds.slots} requests are already working on database {db} at {host}:{port}; "
            "try again when they have finished",
            retry_after=max(1, math.ceil(bounds.statement_s / 10)),
        )
    held[key] = 1
    try:
        yield
    finally:
        held[key] = 0
        sem.release()


def connect(
    url: str,
    *,
    autocommit: bool = False,
    bounds: DbBounds | None = None,
    statement_s: float | None = None,
) -> BoundedConnection:
    """A session with the settings every Santokit query assumes (UTC, no JIT) and its bounds:
    ``statement_s`` (default: ``bounds.statement_s``) on the server and, plus the grace, on
    every wait of the client. A read waits for a table lock at most half its statement bound,
    so a read stuck behind another session's DDL is a clear CONFLICT, not a timeout."""
    bounds = bounds or DbBounds.from_env()
    lock_s = (
        bounds.lock_s if statement_s is not None else min(bounds.lock_s, bounds.statement_s / 2)
    )
    statement_s = bounds.statement_s if statement_s is None else statement_s
    tcp = bounds.tcp_s
    try:
        conn = BoundedConnection.connect(
            url,
            autocommit=autocommit,
            connect_timeout=_connect_timeout(bounds),
            application_name="santokit",
            keepalives=1,
            keepalives_idle=max(1, round(tcp / 3)),
            keepalives_interval=max(1, round(tcp / 9)),
            keepalives_count=3,
            tcp_user_timeout=_ms(tcp),
        )
    except psycopg.ProgrammingError:
        raise ConnectionFailed("could not connect: the database URL is malformed") from None
    except psycopg.OperationalError as exc:
        raise ConnectionFailed(
            f"could not connect to {redact_url(url)}: {_reason(str(exc), bounds)}"
        ) from None
    conn.wait_s = bounds.watchdog_s(statement_s)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "set jit = off; set timezone = 'UTC'; set standard_conforming_strings = on; "
                f"set statement_timeout = {_ms(statement_s)}; "
                f"set lock_timeout = {_ms(lock_s)}; "
                f"set idle_in_transaction_session_timeout = {_ms(bounds.idle_s)}"
            )
        if not autocommit:
            conn.commit()
    except psycopg.Error as exc:
        conn.close()
        raise lost(url, exc) from None
    return conn


def broken(conn: psycopg.Connection[Any], exc: BaseException) -> bool:
    """Whether ``exc`` means the session is gone (killed, cut off, silent), not a refused
    statement."""
    return (
        isinstance(exc, Silent | pg_errors.AdminShutdown | pg_errors.CrashShutdown)
        or conn.closed
        or conn.broken
    )


def lost(url: str, exc: BaseException, outcome: str = "") -> ConnectionFailed:
    """CONNECTION_FAILED for a session that died or stopped answering mid-work; ``outcome``
    says what that left in the database."""
    if isinstance(exc, Silent):
        why = f"the database stopped answering ({exc})"
    elif isinstance(exc, pg_errors.QueryCanceled):
        why = "a query ran past the statement timeout (STK_HUB_DB_STATEMENT_TIMEOUT_S)"
    else:
        why = "the connection was lost"
    return ConnectionFailed(f"{why}: {redact_url(url)}" + (f"; {outcome}" if outcome else ""))


@contextmanager
def session(
    url: str,
    *,
    autocommit: bool = True,
    bounds: DbBounds | None = None,
    statement_s: float | None = None,
) -> Iterator[BoundedConnection]:
    """A bounded connection in one of its database's slots; a session that dies, stops
    answering or times out on a read becomes CONNECTION_FAILED, never a raw driver error."""
    bounds = bounds or DbBounds.from_env()
    with slot(url, bounds):
        conn = connect(url, autocommit=autocommit, bounds=bounds, statement_s=statement_s)
        try:
            with conn:
                yield conn
        except pg_errors.LockNotAvailable:
            host, port, db = target(url)
            raise Conflict(
                f"a table in database {db} at {host}:{port} is locked by another session (an "
                "apply still running?); try again when it has finished"
            ) from None
        except psycopg.OperationalError as exc:
            raise lost(url, exc) from None


def test_connection(url: str, bounds: DbBounds | None) -> tuple[str, float]:
    """The server version and the round trip (ms) when the database answers, else
    ConnectionFailed."""
    start = time.perf_counter()
    with session(url, bounds=bounds) as conn:
        version = conn.execute("select current_setting('server_version')").fetchone()
    latency = (time.perf_counter() - start) * 1000
    return (version[0] if version else ""), latency
