"""Flow 06 of the seed as written: plan, apply, blocked changes, drift gate; idempotent releases."""

from __future__ import annotations

import json

from .e2e import Sandbox
from .pg import execute, schema_dump
from .test_e2e_flow01 import bootstrap
from .test_e2e_flow08 import release_id


def edit(sandbox: Sandbox, old: str, new: str, file: str = "schema/main.yaml") -> None:
    path = sandbox.repo / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_flow_06_plan_apply_block_and_drift(sandbox: Sandbox) -> None:
    urls = bootstrap(sandbox)
    first = release_id(sandbox.ok("apply", "--ref", "v1").out)
    # a safe change: shown by the dry run, database untouched, then applied
    edit(sandbox, "      nickname:", "      bio: { type: string }\n      nickname:")
    edit(
        sandbox,
        "      - columns: [nickname]\n",
        "      - columns: [nickname]\n      - columns: [created_at]\n",
    )
    before = schema_dump(urls["dev_main"])
    dry = sandbox.ok("apply", "--only", "schema", "--dry-run", "--ref", "v2")
    assert "+ add column users.bio" in dry.out
    assert "+ create index users.users_created_at_idx" in dry.out
    assert schema_dump(urls["dev_main"]) == before
    sandbox.ok("apply", "--project", "shop", "--env", "dev", "--only", "schema", "--ref", "v2")
    assert "bio" in schema_dump(urls["dev_main"])
    # destructive changes: blocked in the dry run and in the apply, nothing changes
    edit(
        sandbox,
        "      nickname:   { type: string }",
        "      nickname:   { type: string, nullable: false }",
    )
    edit(sandbox, "      bio: { type: string }\n", "")
    before = schema_dump(urls["dev_main"])
    for args in (("--dry-run",), ()):
        run = sandbox.stk("apply", "--only", "schema", *args, "--ref", "v3")
        assert run.code == 1
        assert "CHANGE_BLOCKED" in run.err
        assert "! MF101" in run.out
        assert "! DS102" in run.out
        assert "remedy:" in run.out
        assert schema_dump(urls["dev_main"]) == before
    edit(
        sandbox,
        "      nickname:   { type: string, nullable: false }",
        "      nickname:   { type: string }",
    )
    edit(sandbox, "      nickname:", "      bio: { type: string }\n      nickname:")
    second = release_id(sandbox.ok("apply", "--ref", "v2").out)
    assert second != first
    # drift: a column added by hand blocks every release
    execute(urls["dev_main"], "alter table users add column extra text")
    run = sandbox.stk("apply", "--ref", "v3")
    assert run.code == 1
    assert "DRIFT_DETECTED" in run.err
    assert "users.extra (column)" in run.out
    assert "way out 1: declare column users.extra in schema/*.yaml as { type: string }" in run.out
    assert "way out 2: drop column users.extra from the database by hand" in run.out
    report = json.loads(sandbox.stk("apply", "--ref", "v3", "--json").out)
    assert report["error"]["code"] == "DRIFT_DETECTED"
    [item] = report["error"]["details"]
    assert (item["connection"], item["table"], item["object"], item["name"]) == (
        "main",
        "users",
        "column",
        "extra",
    )
    assert item["actual"]["type"] == "string"
    assert item["declared"] is None
    assert set(item["waysOut"]) == {"changeYaml", "restoreDatabase"}
    releases = json.loads(sandbox.ok("release", "list", "--json").out)
    assert [r["releaseId"] for r in releases] == [second, first]  # no release was made
    # option 1: declare it
    edit(sandbox, "      nickname:", "      extra: { type: string }\n      nickname:")
    third = release_id(sandbox.ok("apply", "--ref", "v3").out)
    # option 2: restore the database by hand
    execute(urls["dev_main"], "alter table users add column extra2 int")
    assert sandbox.stk("apply", "--ref", "v4").code == 1
    execute(urls["dev_main"], "alter table users drop column extra2")
    assert release_id(sandbox.ok("apply", "--ref", "v4").out) == third  # same content


def test_releases_are_content_addressed(sandbox: Sandbox) -> None:
    bootstrap(sandbox)
    a1 = json.loads(sandbox.ok("apply", "--ref", "A", "--json").out)
    a2 = json.loads(sandbox.ok("apply", "--ref", "A", "--json").out)
    b = json.loads(sandbox.ok("apply", "--ref", "B", "--json").out)
    assert a1["releaseId"] == a2["releaseId"] == b["releaseId"]
    assert (a1["reused"], a2["reused"], b["reused"]) == (False, True, True)
    edit(sandbox, "roles: [service]", "roles: [service, auditor]", file="config/permissions.yaml")
    c = json.loads(sandbox.ok("apply", "--only", "permissions,release", "--ref", "C", "--json").out)
    assert c["releaseId"] != a1["releaseId"]
    assert c["reused"] is False
