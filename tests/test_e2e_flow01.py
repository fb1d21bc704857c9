"""Flow 01 of the seed, every command line as written, on a real Hub, stk and Postgres."""

from __future__ import annotations

import json
import sqlite3
import threading
from urllib.parse import urlsplit

import psycopg
import pytest

from .e2e import PASSWORD, HubProcess, Run, Sandbox
from .pg import rows, schema_dump, wait_for_lock_waiter


def bootstrap(sb: Sandbox) -> dict[str, str]:
    """Flow 01 A-C: login, context, project, envs, connections; returns the database URLs."""
    sb.operator()
    urls = {
        f"{env}_{conn}": sb.database(f"{sb.hub.port}_{env}_{conn}")
        for env in ("dev", "prod")
        for conn in ("main", "analytics")
    }
    sb.ok(
        "context",
        "set",
        "--hub",
        sb.hub.url,
        "--project",
        "shop",
        "--env",
        "dev",
        "--connection",
        "main",
    )
    assert sb.login().code == 0
    sb.ok("whoami")
    sb.ok("project", "create", "shop")
    sb.ok("env", "create", "--project", "shop", "dev")
    sb.ok("env", "create", "--project", "shop", "prod")
    sb.ok(
        "connections", "set", "--name", "main", "--engine", "postgres", "--db-url", urls["dev_main"]
    )
    sb.ok(
        "connections",
        "set",
        "--project",
        "shop",
        "--env",
        "prod",
        "--name",
        "main",
        "--engine",
        "postgres",
        "--db-url",
        urls["prod_main"],
    )
    sb.ok(
        "connections",
        "set",
        "--name",
        "analytics",
        "--engine",
        "postgres",
        "--db-url",
        urls["dev_analytics"],
    )
    sb.ok(
        "connections",
        "set",
        "--project",
        "shop",
        "--env",
        "prod",
        "--name",
        "analytics",
        "--engine",
        "postgres",
        "--db-url",
        urls["prod_analytics"],
    )
    sb.ok("connections", "test", "--name", "main")
    sb.ok("connections", "test", "--project", "shop", "--env", "prod", "--name", "main")
    sb.ok("connections", "test", "--name", "analytics")
    return urls


def tables(url: str) -> set[str]:
    """The tables of ``public`` but Santokit's own record of what it applied (stk_applied)."""
    sql = (
        "select tablename from pg_tables where schemaname = 'public' and tablename <> 'stk_applied'"
    )
    return {r[0] for r in rows(url, sql)}


def test_flow_01_end_to_end(sandbox: Sandbox) -> None:
    urls = bootstrap(sandbox)
    who = sandbox.ok("whoami").out
    assert who.startswith("ops@example.com")
    dev = sandbox.ok("apply", "--ref", "v1")
    assert dev.out.splitlines()[-1].startswith("releaseId=rel_")
    prod = sandbox.ok("apply", "--project", "shop", "--env", "prod", "--ref", "v1")
    assert prod.out.splitlines()[-1].startswith("releaseId=rel_")
    for env in ("dev", "prod"):
        assert tables(urls[f"{env}_main"]) == {"users", "posts"}
        assert tables(urls[f"{env}_analytics"]) == {"events"}
    listed = json.loads(sandbox.ok("connections", "list", "--json").out)
    assert {c["name"] for c in listed} == {"main", "analytics"}
    assert all("***" in c["dbUrl"] for c in listed)
    # the secret never appears: in outputs, the hub log, the audit rows, the store file
    secret = urlsplit(sandbox.pg_admin_url).password
    token = json.loads((sandbox.repo.parent / "config" / "credentials.json").read_text())
    token = next(iter(token["hubs"].values()))["token"]
    texts = [r.out + r.err for r in sandbox.transcript] + [sandbox.hub.log.read_text()]
    if sandbox.hub.store is None:
        store = sandbox.hub.data_dir / "hub.db"
        with sqlite3.connect(store) as db:
            texts += [str(r) for r in db.execute("select * from audit_events")]
        texts.append(store.read_bytes().decode("latin-1"))
    else:
        texts += [str(r) for r in rows(sandbox.hub.store, "select * from audit_events")]
        texts.append(schema_dump(sandbox.hub.store, data=True))
    assert any("connection.set" in t for t in texts)
    for text in texts:
        assert secret not in text
        assert token not in text
        assert PASSWORD not in text


def test_restart_keeps_everything(sandbox: Sandbox) -> None:
    bootstrap(sandbox)
    first = sandbox.ok("apply", "--ref", "v1").out.splitlines()[-1]
    sandbox.hub.stop()
    sandbox.hub.start()
    sandbox.ok("whoami")  # the session survived
    again = sandbox.ok("apply", "--ref", "v1").out.splitlines()[-1]
    assert again == first  # the same content is the same release
    assert "main" in sandbox.ok("connections", "list").out


def test_refusals(sandbox: Sandbox) -> None:
    urls = bootstrap(sandbox)
    dup = sandbox.stk("project", "create", "shop")
    assert dup.code == 1
    assert "already exists (CONFLICT" in dup.err
    secret = urlsplit(sandbox.pg_admin_url).password
    bad = {
        "closed port": urls["dev_main"].replace(str(urlsplit(urls["dev_main"]).port), "1"),
        "wrong password": urls["dev_main"].replace(secret, "not-the-password"),
        "unknown database": urls["dev_main"].rsplit("/", 1)[0] + "/no_such_db",
    }
    for case, url in bad.items():
        sandbox.ok(
            "connections", "set", "--name", "broken", "--engine", "postgres", "--db-url", url
        )
        run = sandbox.stk("connections", "test", "--name", "broken")
        assert run.code == 1, case
        assert len(run.err.strip().splitlines()) == 1, case
        assert "CONNECTION_FAILED" in run.err, case
        assert secret not in run.out + run.err
        assert "not-the-password" not in run.out + run.err
    # an invalid schema: findings listed, nothing sent, nothing changed
    (sandbox.repo / "schema" / "bad.yaml").write_text(
        "version: 1\ntables:\n  extra:\n    connection: main\n    columns:\n"
        "      a: { type: strin }\n"
    )
    run = sandbox.stk("apply", "--ref", "bad")
    assert run.code == 1
    assert "schema/bad.yaml:6:" in run.out
    assert tables(urls["dev_main"]) == set()
    (sandbox.repo / "schema" / "bad.yaml").unlink()
    # a connection the env does not have
    (sandbox.repo / "schema" / "other.yaml").write_text(
        "version: 1\ntables:\n  logs:\n    connection: archive\n"
    )
    run = sandbox.stk("apply", "--ref", "x")
    assert run.code == 1
    assert "connection archive, which is not registered" in run.err
    (sandbox.repo / "schema" / "other.yaml").unlink()
    # a viewer may look but not apply
    sandbox.operator("viewer@example.com")
    sandbox.ok(
        "hub",
        "grant",
        "--email",
        "viewer@example.com",
        "--project",
        "shop",
        "--role",
        "viewer",
        *sandbox.hub.store_args,
    )
    viewer_env = {"STK_CONFIG_DIR": str(sandbox.repo.parent / "viewer-config")}
    assert (
        sandbox.stk(
            "login",
            "--email",
            "viewer@example.com",
            "--password-stdin",
            stdin=PASSWORD + "\n",
            env=viewer_env,
        ).code
        == 0
    )
    assert sandbox.stk("connections", "list", env=viewer_env).code == 0
    run = sandbox.stk("apply", "--ref", "v1", env=viewer_env)
    assert run.code == 1
    assert "FORBIDDEN" in run.err
    assert "deployer" in run.err
    # logged out: the token no longer works anywhere
    sandbox.ok("logout")
    run = sandbox.stk("whoami")
    assert run.code == 2
    assert "stk login" in run.err


@pytest.mark.parametrize("sandbox", ["sqlite"], indirect=True)  # store-independent
def test_without_login_and_without_hub(sandbox: Sandbox) -> None:
    sandbox.ok("context", "set", "--hub", sandbox.hub.url, "--project", "shop", "--env", "dev")
    run = sandbox.stk("project", "list")
    assert run.code == 2
    assert "run stk login" in run.err
    run = sandbox.stk("whoami", "--hub", "http://127.0.0.1:1")
    assert run.code in (1, 2)
    sandbox.operator()
    assert sandbox.login().code == 0
    sandbox.hub.stop()
    run = sandbox.stk("project", "list")
    assert run.code == 1
    assert run.err.strip() == f"error: cannot reach hub at {sandbox.hub.url}: connection refused"


def test_two_applies_at_once(sandbox: Sandbox) -> None:
    urls = bootstrap(sandbox)
    sandbox.ok("apply", "--ref", "v1")
    main = sandbox.repo / "schema" / "main.yaml"
    main.write_text(
        main.read_text().replace("      nickname:", "      bio: { type: string }\n      nickname:")
    )
    results: dict[str, Run] = {}

    def run(name: str) -> None:
        results[name] = sandbox.stk("apply", "--ref", "v2")

    with psycopg.connect(urls["dev_main"]) as holder:
        holder.execute("lock table users in access share mode")  # the first apply waits here
        first = threading.Thread(target=run, args=("first",))
        first.start()
        wait_for_lock_waiter(urls["dev_main"])
        run("second")
        holder.rollback()
    first.join()
    assert results["second"].code == 1
    assert "CONFLICT" in results["second"].err
    assert "another apply is running" in results["second"].err
    assert results["first"].code == 0, results["first"].err
    assert results["first"].out.splitlines()[-1].startswith("releaseId=rel_")


def test_json_everywhere_and_dry_run(sandbox: Sandbox) -> None:
    """--json prints one JSON document on stdout and nothing else; --dry-run changes nothing."""
    urls = bootstrap(sandbox)
    for args in (
        ("whoami",),
        ("project", "list"),
        ("env", "list"),
        ("env", "create", "--project", "shop", "staging"),
        ("connections", "list"),
        ("connections", "show", "--name", "main"),
        ("connections", "test", "--name", "main"),
        (
            "connections",
            "set",
            "--name",
            "extra",
            "--engine",
            "postgres",
            "--db-url",
            urls["dev_main"],
        ),
        ("context", "show"),
        ("context", "set", "--env", "dev"),
        ("validate",),
        ("plugins",),
    ):
        run = sandbox.ok(*args, "--json")
        json.loads(run.out)  # exactly one document
        assert urlsplit(sandbox.pg_admin_url).password not in run.out
    dry = sandbox.ok("apply", "--only", "schema", "--dry-run", "--ref", "v1", "--json")
    plan = json.loads(dry.out)
    assert plan["dryRun"] is True
    assert plan["releaseId"] is None
    kinds = {c["kind"] for c in plan["schema"]["connections"]["main"]["changes"]}
    assert kinds == {"create_table", "create_index", "add_foreign_key"}
    assert plan["schema"]["connections"]["main"]["fingerprints"]["declared"].startswith("sha256:")
    assert tables(urls["dev_main"]) == set()
    only_schema = json.loads(sandbox.ok("apply", "--only", "schema", "--ref", "v1", "--json").out)
    assert only_schema["releaseId"] is None
    assert tables(urls["dev_main"]) == {"users", "posts"}
    full = json.loads(sandbox.ok("apply", "--ref", "v1", "--json").out)
    assert full["releaseId"].startswith("rel_")
    assert full["reused"] is False


def test_logout_revokes_the_stored_session_even_with_stk_token_set(sandbox: Sandbox) -> None:
    sandbox.operator()
    sandbox.ok("context", "set", "--hub", sandbox.hub.url)
    assert sandbox.login().code == 0
    stored = json.loads((sandbox.repo.parent / "config" / "credentials.json").read_text())
    token = next(iter(stored["hubs"].values()))["token"]
    assert sandbox.stk("logout", env={"STK_TOKEN": "stkop_someone-else"}).code == 0
    revoked = sandbox.stk("whoami", env={"STK_TOKEN": token})
    assert revoked.code == 2  # revoked on the Hub: a configuration error, like not logged in
    assert "stk login" in revoked.err


def test_dry_run_of_every_step_reports_instead_of_failing(sandbox: Sandbox) -> None:
    urls = bootstrap(sandbox)
    plan = json.loads(sandbox.ok("apply", "--dry-run", "--ref", "v1", "--json").out)
    assert plan["release"]["wouldReuse"] is False
    assert plan["release"]["pendingSchemaChanges"] > 0
    assert tables(urls["dev_main"]) == set()
    assert sandbox.stk("apply", "--only", "", "--ref", "v1").code == 2


@pytest.mark.parametrize("sandbox", ["postgres"], indirect=True)  # replicas share a PG store
def test_two_hub_replicas_serialize_applies_of_one_env(sandbox: Sandbox) -> None:
    assert sandbox.hub.store is not None
    urls = bootstrap(sandbox)
    sandbox.ok("apply", "--ref", "v1")
    other = HubProcess(sandbox.hub.data_dir, sandbox.env, sandbox.hub.store)
    other.start()
    try:
        main = sandbox.repo / "schema" / "main.yaml"
        main.write_text(
            main.read_text().replace(
                "      nickname:", "      bio: { type: string }\n      nickname:"
            )
        )
        results: dict[str, Run] = {}

        def run() -> None:
            results["first"] = sandbox.stk("apply", "--ref", "v2")

        with psycopg.connect(urls["dev_main"]) as holder:
            holder.execute("lock table users in access share mode")
            first = threading.Thread(target=run)
            first.start()
            wait_for_lock_waiter(urls["dev_main"])
            token = json.loads((sandbox.repo.parent / "config" / "credentials.json").read_text())
            token = next(iter(token["hubs"].values()))["token"]  # the session is in the store
            results["second"] = sandbox.stk(
                "apply", "--ref", "v2", "--hub", other.url, env={"STK_TOKEN": token}
            )
            holder.rollback()
        first.join()
    finally:
        other.stop()
    assert results["first"].code == 0, results["first"].err
    assert results["second"].code == 1
    assert "CONFLICT" in results["second"].err
