"""A Hub store that cannot be written (issue 11.3, 11.4): clear 503s, an honest /readyz, and
ownership of applied tables that survives the lost write, on both stores.

The store write is failed on purpose for real: the SQLite store lives on a tiny tmpfs that is
filled up, the PostgreSQL store's database is made read-only and its sessions ended.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from .conftest import write_files
from .e2e import PASSWORD, HubProcess, Sandbox
from .pg import rows, with_database
from .store_faults import pg_store_read_only, tiny_tmpfs

USERS = """\
  users:
    connection: main
    id: { name: id, generate: ulid }
    columns:
      email: { type: string, nullable: false, unique: true }
"""
POSTS = """\
  posts:
    connection: main
    id: { generate: auto_increment }
    columns:
      user_id: { type: string, nullable: false, references: { table: users, as: author } }
      title: { type: string }
"""
PERMISSIONS = "version: 1\ntables:\n  users:\n    select:\n      - roles: [admin]\n"
POSTS_RULE = "  posts:\n    select:\n      - roles: [admin]\n"


def declare(sb: Sandbox, *tables: str) -> None:
    """schema/main.yaml with these tables, and a read rule for each in permissions.yaml."""
    rules = PERMISSIONS + (POSTS_RULE if POSTS in tables else "")
    write_files(
        sb.repo,
        {
            "schema/main.yaml": "version: 1\ntables:\n" + "".join(tables),
            "config/permissions.yaml": rules,
        },
    )


@dataclass
class Faulty:
    """A sandbox whose store can be broken and mended while its Hub runs."""

    sb: Sandbox
    breaks: Callable[[], None]
    mends: Callable[[], None]
    store_kind: str


@pytest.fixture(params=["sqlite-disk-full", "postgres-read-only"])
def faulty(request: pytest.FixtureRequest, tmp_path: Path, pg_admin_url: str) -> Iterator[Faulty]:
    repo = tmp_path / "repo"
    write_files(repo, {"config/permissions.yaml": PERMISSIONS})
    env = {k: v for k, v in os.environ.items() if not k.startswith("STK_")}
    env |= {
        "NO_COLOR": "1",
        "STK_CONFIG_DIR": str(tmp_path / "config"),
        "STK_HUB_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    data = tmp_path / "hub"
    data.mkdir()
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite-disk-full":
            disk = stack.enter_context(tiny_tmpfs(tmp_path / "disk"))
            store = f"sqlite:///{disk.root}/hub.db"
            breaks, mends = disk.fill, disk.free
        else:
            name = f"hub_{secrets.token_hex(6)}"
            with psycopg.connect(pg_admin_url, autocommit=True) as conn:
                conn.execute(f'create database "{name}"'.encode())
            store = with_database(pg_admin_url, name)

            def breaks() -> None:
                pg_store_read_only(pg_admin_url, name, True)

            def mends() -> None:
                pg_store_read_only(pg_admin_url, name, False)

        hub = HubProcess(data, env, store)
        hub.start()
        stack.callback(hub.stop)
        yield Faulty(Sandbox(repo, env, hub, pg_admin_url), breaks, mends, request.param)


def token(sb: Sandbox) -> str:
    done = httpx.post(
        f"{sb.hub.url}/v1/auth/login",
        json={"email": "ops@example.com", "password": PASSWORD},
        timeout=10,
    )
    assert done.status_code == 200, done.text
    return str(done.json()["token"])


def one_line_503(run_err: str) -> None:
    lines = [ln for ln in run_err.splitlines() if ln.strip()]
    assert len(lines) == 1, run_err
    assert "SERVICE_UNAVAILABLE" in lines[0]
    assert "Traceback" not in run_err


def test_a_store_that_cannot_be_written_loses_no_ownership(faulty: Faulty) -> None:
    sb = faulty.sb
    sb.operator()
    db = sb.database(f"own_{sb.hub.port}")
    sb.ok("context", "set", "--hub", sb.hub.url, "--project", "shop", "--env", "dev")
    assert sb.login().code == 0
    sb.ok("project", "create", "shop")
    sb.ok("env", "create", "dev")
    sb.ok("connections", "set", "--name", "main", "--engine", "postgres", "--db-url", db)
    declare(sb, USERS)
    sb.ok("apply", "--only", "schema", "--ref", "v1")
    assert rows(db, "select ref, changes from stk_applied") == [("v1", 1)]
    bearer = {"authorization": f"Bearer {token(sb)}"}
    assert httpx.get(f"{sb.hub.url}/readyz", timeout=10).status_code == 200

    # the store breaks: every write is a one-line 503, /readyz says not ready
    faulty.breaks()
    ready = httpx.get(f"{sb.hub.url}/readyz", timeout=10)
    assert ready.status_code == 503
    expected = "disk is full" if faulty.store_kind.startswith("sqlite") else "read-only"
    assert expected in ready.json()["reason"]
    run = sb.stk("project", "create", "other")
    assert run.code != 0
    one_line_503(run.err)
    assert expected in run.err
    answer = httpx.post(f"{sb.hub.url}/v1/projects", json={"name": "other"}, headers=bearer)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "SERVICE_UNAVAILABLE"

    # an apply commits its DDL, then cannot record it in the store
    declare(sb, USERS, POSTS)
    run = sb.stk("apply", "--only", "schema", "--ref", "v2")
    assert run.code != 0
    one_line_503(run.err)
    assert "the schema was applied to connection main" in run.err
    assert "could not record it" in run.err
    assert "reconciles" in run.err
    assert rows(db, "select to_regclass('public.posts') is not null") == [(True,)]
    [(ref, actor, applied)] = rows(db, "select ref, actor, schema_json from stk_applied")
    assert (ref, actor) == ("v2", "ops@example.com")
    assert set(applied["tables"]) == {"users", "posts"}

    # the store mends: the next request reads the tables as its own and says what happened
    faulty.mends()
    assert httpx.get(f"{sb.hub.url}/readyz", timeout=10).status_code == 200
    plan = json.loads(sb.ok("apply", "--only", "schema", "--dry-run", "--ref", "v2", "--json").out)
    assert plan["schema"]["connections"]["main"]["changes"] == []
    events = httpx.get(
        f"{sb.hub.url}/v1/projects/shop/audit",
        params={"action": "schema.reconcile"},
        headers=bearer,
        timeout=10,
    ).json()
    [event] = events
    assert event["detail"]["ref"] == "v2"
    assert event["detail"]["connection"] == "main"
    assert event["detail"]["appliedBy"] == "ops@example.com"
    assert event["detail"]["previousDigest"]  # the store had v1's record, older than v2's
    assert sorted(event["detail"]["tables"]) == ["posts", "users"]
    assert event["detail"]["changes"] >= 1
    # owned: leaving posts out of the files is a drop, blocked (not an ignored foreign table)
    declare(sb, USERS)
    run = sb.stk("apply", "--only", "schema", "--dry-run", "--ref", "v3")
    assert run.code != 0
    assert "CHANGE_BLOCKED" in run.err
    assert "posts" in run.out
    # reconciled once: a second read adopts nothing more
    declare(sb, USERS, POSTS)
    done = sb.ok("apply", "--ref", "v3", "--json")
    report = json.loads(done.out)
    assert report["drift"] == []
    assert report["releaseId"]
    assert "stk_applied" not in done.out
    events = httpx.get(
        f"{sb.hub.url}/v1/projects/shop/audit",
        params={"action": "schema.reconcile"},
        headers=bearer,
        timeout=10,
    ).json()
    assert len(events) == 1
    assert rows(db, "select ref from stk_applied") == [("v3",)]
