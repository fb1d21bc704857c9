"""The Hub under a customer database that fails: silent, stopped, killed, refusing a statement.

Every case has a bound it must end within (the fault settings below make them seconds), and the
control plane must go on answering while it waits: the tests measure both.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from santokit.core.errors import ConnectionFailed
from santokit.plugins.diffrules import RULES
from santokit.plugins.postgres.connect import DbBounds
from santokit.plugins.postgres.embedded import EmbeddedPostgres
from santokit.plugins.postgres.engine import PostgresEngine, lock_key

from .e2e import PASSWORD, HubProcess, hub_with_operator
from .faults import SilentProxy, stopped, upstream_of
from .pg import execute, rows, with_database
from .test_pg_engine import USERS, declare

BOUNDS = DbBounds(
    connect_s=2,
    statement_s=1,
    apply_statement_s=1,
    lock_s=30,  # longer than the rest: a blocked statement is ended by the bound under test
    idle_s=1,
    apply_lock_wait_s=1,
    tcp_s=3,
    grace_s=1,
)
ENGINE = PostgresEngine(BOUNDS)
WITH_BIO = USERS.replace("      age:", "      bio: { type: string }\n      age:")


def waiting_on_lock(url: str, timeout: float = 10) -> int:
    """The pid of the Santokit session blocked on a table lock in ``url``'s database."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = rows(
            url,
            "select pid from pg_stat_activity where application_name = 'santokit' "
            "and wait_event_type = 'Lock' and datname = current_database()",
        )
        if found:
            return int(found[0][0])
        time.sleep(0.05)
    raise AssertionError("the apply never reached the lock")


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def run() -> None:
        start = time.monotonic()
        try:
            out["result"] = fn()
        except Exception as exc:
            out["error"] = exc
        out["s"] = time.monotonic() - start

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


@pytest.fixture(scope="module")
def stoppable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """A server of its own, so that stopping it stops no other test."""
    server = EmbeddedPostgres(tmp_path_factory.mktemp("stoppable")).start()
    try:
        yield server
    finally:
        server.stop()


# -- the engine ---------------------------------------------------------------------------------
def test_a_tarpit_is_connection_failed_within_the_connect_timeout(database: str) -> None:
    with SilentProxy(upstream_of(database), forward=False) as proxy:
        start = time.monotonic()
        with pytest.raises(ConnectionFailed, match="timed out after 2 s") as err:
            ENGINE.plan(proxy.url(database), declare(USERS), None, RULES)
        assert time.monotonic() - start < 4
    assert err.value.code == "CONNECTION_FAILED"


def test_a_database_gone_silent_mid_apply_is_connection_failed_and_frees_the_lock(
    database: str,
) -> None:
    """The proxy forwards, then swallows everything: the server's own timeouts fire but their
    answers never arrive, so only the client's bound can end the wait."""
    applied = declare(USERS)
    ENGINE.apply(database, applied, None, RULES)
    with SilentProxy(upstream_of(database)) as proxy, psycopg.connect(database) as holder:
        holder.execute("lock table users in access share mode")
        thread, out = in_thread(
            lambda: ENGINE.apply(proxy.url(database), declare(WITH_BIO), applied, RULES)
        )
        waiting_on_lock(database)
        proxy.silence()
        thread.join(10)
        holder.rollback()
    assert isinstance(out.get("error"), ConnectionFailed), out
    assert "stopped answering" in out["error"].message
    assert out["s"] < BOUNDS.watchdog_s(BOUNDS.apply_statement_s) + 1.5
    # the abandoned session dies of its idle-in-transaction timeout: its advisory lock with it
    again = PostgresEngine(DbBounds(apply_lock_wait_s=5))
    assert again.apply(database, declare(WITH_BIO), applied, RULES).applied


def test_a_stopped_server_mid_apply_is_connection_failed_within_the_bound(
    stoppable: EmbeddedPostgres,
) -> None:
    url = stoppable.url()
    execute(url, "drop table if exists posts, users")
    applied = declare(USERS)
    ENGINE.apply(url, applied, None, RULES)
    with psycopg.connect(url) as holder:
        holder.execute("lock table users in access share mode")
        thread, out = in_thread(lambda: ENGINE.apply(url, declare(WITH_BIO), applied, RULES))
        waiting_on_lock(url)
        with stopped(stoppable.data_dir):
            thread.join(10)
        holder.rollback()
    assert isinstance(out.get("error"), ConnectionFailed), out
    assert out["s"] < BOUNDS.watchdog_s(BOUNDS.apply_statement_s) + 1.5
    again = PostgresEngine(DbBounds(apply_lock_wait_s=5))
    assert again.apply(url, declare(WITH_BIO), applied, RULES).applied


# -- the Hub ------------------------------------------------------------------------------------
FAULT_SETTINGS = {
    "STK_HUB_DB_CONNECT_TIMEOUT_S": "2",
    "STK_HUB_DB_STATEMENT_TIMEOUT_S": "2",
    "STK_HUB_DB_APPLY_STATEMENT_TIMEOUT_S": "3",
    "STK_HUB_DB_LOCK_TIMEOUT_S": "10",
    "STK_HUB_DB_IDLE_TIMEOUT_S": "2",
    "STK_HUB_DB_APPLY_LOCK_WAIT_S": "1",
    "STK_HUB_DB_WATCHDOG_GRACE_S": "1",
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = hub_with_operator(tmp_path_factory.mktemp("hub"), **FAULT_SETTINGS)
    try:
        yield process
    finally:
        process.stop()


def client(hub: HubProcess, timeout: float = 30) -> httpx.Client:
    token = httpx.post(
        f"{hub.url}/v1/auth/login", json={"email": "ops@example.com", "password": PASSWORD}
    ).json()["token"]
    return httpx.Client(
        base_url=hub.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
    )


def project_with(api: httpx.Client, urls: dict[str, str]) -> str:
    """A new project whose env ``name`` has connection main at ``url``, for each item."""
    project = f"p{secrets.token_hex(5)}"
    assert api.post("/v1/projects", json={"name": project}).is_success
    for env, url in urls.items():
        assert api.post(f"/v1/projects/{project}/envs", json={"name": env}).is_success
        r = api.put(
            f"/v1/projects/{project}/envs/{env}/connections/main",
            json={"engine": "postgres", "dbUrl": url},
        )
        assert r.is_success, r.text
    return project


def body(schema: str, *, dry_run: bool = False, ref: str = "r1") -> dict[str, Any]:
    return {
        "ref": ref,
        "only": ["schema"],
        "dryRun": dry_run,
        "snapshot": {"schemaFiles": {"schema/main.yaml": schema}},
    }


def new_database(pg_admin_url: str) -> str:
    name = f"faults_{secrets.token_hex(5)}"
    execute(pg_admin_url, f'create database "{name}"')
    return with_database(pg_admin_url, name)


def test_apply_failures_have_their_own_codes_and_envs_on_one_database_serialise(
    hub: HubProcess, pg_admin_url: str
) -> None:
    api = client(hub)
    db = new_database(pg_admin_url)
    project = project_with(api, {"a": db, "b": db})
    a, b = (f"/v1/projects/{project}/envs/{env}/apply" for env in ("a", "b"))
    assert api.post(a, json=body(USERS)).status_code == 200

    # a statement the database refuses: APPLY_FAILED 409, never CHANGE_BLOCKED
    execute(db, "insert into users (id, email) values ('u1', 'a@x')")
    refused = USERS.replace(
        "      age:",
        "      referrer: { type: string, default: nobody, references: { table: users } }\n"
        "      age:",
    )
    r = api.post(a, json=body(refused, ref="r2"))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "APPLY_FAILED"), r.text
    assert "violates foreign key constraint" in r.json()["error"]["message"]

    # the apply lock is the target database's namespace, whichever env or project holds it
    with psycopg.connect(db, autocommit=True) as other:
        other.execute("select pg_advisory_lock(%s)", (lock_key("public"),))
        for path in (a, b):
            r = api.post(path, json=body(WITH_BIO, ref="r3"))
            assert (r.status_code, r.json()["error"]["code"]) == (409, "CONFLICT"), r.text
            assert "another apply is running on this database" in r.json()["error"]["message"]

    with psycopg.connect(db) as holder:
        holder.execute("lock table users in access share mode")
        first, out = in_thread(lambda: api.post(a, json=body(WITH_BIO, ref="r3")))
        # while env a waits for the table, env b on the same database is refused, not run
        waiting_on_lock(db)
        r = api.post(b, json=body(WITH_BIO, ref="r3"))
        assert (r.status_code, r.json()["error"]["code"]) == (409, "CONFLICT"), r.text
        # env a's session killed mid-apply: CONNECTION_FAILED 502, nothing applied
        execute(db, f"select pg_terminate_backend({waiting_on_lock(db)})")
        first.join(30)
        holder.rollback()
    r = out["result"]
    assert (r.status_code, r.json()["error"]["code"]) == (502, "CONNECTION_FAILED"), r.text
    assert "nothing was applied" in r.json()["error"]["message"]
    assert rows(
        db, "select count(*) from information_schema.columns where column_name = 'bio'"
    ) == [(0,)]
    assert api.post(b, json=body(WITH_BIO, ref="r3")).status_code == 200


def test_a_stopped_database_ends_within_its_bound_and_frees_the_env(
    hub: HubProcess, stoppable: EmbeddedPostgres
) -> None:
    api = client(hub)
    url = stoppable.url()
    execute(url, "drop table if exists posts, users")
    project = project_with(api, {"dev": url})
    path = f"/v1/projects/{project}/envs/dev/apply"
    assert api.post(path, json=body(USERS)).status_code == 200
    with psycopg.connect(url) as holder:
        holder.execute("lock table users in access share mode")
        thread, out = in_thread(lambda: api.post(path, json=body(WITH_BIO, ref="r2")))
        waiting_on_lock(url)
        with stopped(stoppable.data_dir):
            thread.join(15)
            whoami = api.get("/v1/auth/whoami", timeout=1)  # the control plane still answers
        holder.rollback()
    r = out["result"]
    assert (r.status_code, r.json()["error"]["code"]) == (502, "CONNECTION_FAILED"), r.text
    assert out["s"] < 3 + 1 + 2  # the apply statement bound, the grace, and slack
    assert whoami.status_code == 200
    deadline = time.monotonic() + 10  # the server ends the abandoned session on its own
    while (r := api.post(path, json=body(WITH_BIO, ref="r2"))).status_code != 200:
        assert r.json()["error"]["code"] == "CONFLICT", r.text
        assert time.monotonic() < deadline, r.text
    assert r.status_code == 200


def test_fifty_dry_runs_on_a_silent_database_starve_nothing(
    hub: HubProcess, pg_admin_url: str
) -> None:
    api = client(hub)
    healthy_db = new_database(pg_admin_url)
    healthy = project_with(api, {"dev": healthy_db})
    # each connection logs in, then hears nothing: only the client-side bound ends it
    with SilentProxy(upstream_of(pg_admin_url), after_login=True) as silent_db:
        silent_url = silent_db.url(healthy_db)
        envs = {f"e{i}": silent_url for i in range(50)}
        silent = project_with(api, envs)
        headers = dict(api.headers)

        def dry_run(env: str) -> tuple[int, str, float, str]:
            start = time.monotonic()
            r = httpx.post(
                f"{hub.url}/v1/projects/{silent}/envs/{env}/apply",
                json=body(USERS, dry_run=True),
                headers=headers,
                timeout=30,
            )
            error = r.json()["error"]
            return r.status_code, error["code"], time.monotonic() - start, error["message"]

        with ThreadPoolExecutor(50) as pool:
            futures = [pool.submit(dry_run, env) for env in envs]
            time.sleep(0.5)  # all fifty are in the Hub now
            start = time.monotonic()
            whoami = api.get("/v1/auth/whoami", timeout=5)
            whoami_s = time.monotonic() - start
            start = time.monotonic()
            applied = api.post(
                f"/v1/projects/{healthy}/envs/dev/apply", json=body(USERS), timeout=5
            )
            apply_s = time.monotonic() - start
            results = [f.result() for f in futures]
    assert whoami.status_code == 200
    assert whoami_s < 1, whoami_s
    assert applied.status_code == 200, applied.text
    assert apply_s < 1, apply_s
    codes = {(status, code) for status, code, _, _ in results}
    assert codes <= {(502, "CONNECTION_FAILED"), (503, "SERVICE_UNAVAILABLE")}, codes
    assert (502, "CONNECTION_FAILED") in codes
    assert any("stopped answering" in m for _, _, _, m in results)
    slowest = max(s for _, _, s, _ in results)
    # a statement's bound and the grace (2 + 1 s), the wait for a place (1 s), plus the CPU of
    # fifty applies validated at once on a small machine; without the bounds they never end
    assert slowest < 2 + 1 + 1 + 5, slowest
    print(f"whoami {whoami_s:.3f}s, healthy apply {apply_s:.3f}s, slowest silent {slowest:.2f}s")
