"""Flow 07 of the seed as written: change a rule, `stk apply --only permissions,release`, see it in
the release; rules the data plane cannot enforce are refused at apply with no release made."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from .e2e import BRIDGE_TOKENS, PASSWORD, Sandbox
from .test_e2e_flow01 import bootstrap
from .test_e2e_flow06 import edit
from .test_e2e_flow08 import release_id


def with_plugin(sandbox: Sandbox, path: Path) -> None:
    """Restart the Hub with a third-party permission compiler installed."""
    sandbox.hub.stop()
    sandbox.hub.env = {
        **sandbox.hub.env,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(path), os.environ.get("PYTHONPATH")])),
    }
    sandbox.hub.start()


def release_ids(sandbox: Sandbox) -> list[str]:
    return [r["releaseId"] for r in json.loads(sandbox.ok("release", "list", "--json").out)]


def test_flow_07_permissions_change_to_release(sandbox: Sandbox, rls_plugin_path: Path) -> None:
    with_plugin(sandbox, rls_plugin_path)
    bootstrap(sandbox)
    first = release_id(sandbox.ok("apply", "--ref", "v1").out)

    # A. the rule changes in the repository (a PR); B. context form
    edit(sandbox, "roles: [service]", "roles: [service, auditor]", file="config/permissions.yaml")
    run = sandbox.ok("apply", "--only", "permissions,release", "--ref", "perm-1")
    second = release_id(run.out)
    assert second != first
    shown = sandbox.ok("release", "show", "--release-id", second).out
    assert "  users (main)\n    select: auditor, service\n" in shown
    assert '    update: writer where status == "draft" [body, title]\n' in shown
    assert "  events (analytics)\n    insert: auditor, service\n" in shown

    # the explicit form, with another rule changed
    edit(
        sandbox,
        "condition: \"resource.status == 'draft'\"",
        "condition: \"'review' == resource.status\"",
        file="config/permissions.yaml",
    )
    run = sandbox.ok(
        "apply",
        "--project",
        "shop",
        "--env",
        "dev",
        "--only",
        "permissions,release",
        "--ref",
        "perm-2",
        "--json",
    )
    third = json.loads(run.out)
    assert third["reused"] is False
    assert third["permissions"]["artifacts"] == ["policy", "rls_sql"]
    assert third["drift"] == []
    detail = json.loads(
        sandbox.ok("release", "show", "--release-id", third["releaseId"], "--json").out
    )
    assert detail["artifacts"] == ["policy", "rls_sql"]
    assert detail["currentIn"] == ["dev"]
    assert detail["policy"]["posts"]["ops"]["update"] == [
        {"roles": ["writer"], "condition": 'status == "review"', "columns": ["body", "title"]}
    ]
    assert detail["policy"]["events"]["connection"] == "analytics"
    assert release_ids(sandbox) == [third["releaseId"], second, first]

    # what the Bridge pulls: the env's current release, with the compiled policy in it
    bridge = {"Authorization": f"Bearer {BRIDGE_TOKENS[0]}"}
    current = httpx.get(
        f"{sandbox.hub.url}/internal/releases/current?project=shop&env=dev", headers=bridge
    ).json()
    assert current["releaseId"] == third["releaseId"]
    payload = httpx.get(
        f"{sandbox.hub.url}/internal/releases/{current['releaseId']}", headers=bridge
    ).json()
    policy = payload["permissions"]["policy"]
    assert policy["tables"]["posts"]["ops"]["update"] == [
        {
            "roles": ["writer"],
            "columns": ["body", "title"],
            "condition": {"column": "status", "op": "eq", "value": {"literal": "review"}},
        }
    ]
    assert policy["tables"]["posts"]["ops"]["select"][1]["condition"] == {
        "column": "user_id",
        "op": "eq",
        "value": {"authSub": True},
    }
    assert policy["tables"]["events"]["connection"] == "analytics"
    assert payload["permissions"]["rls_sql"] == {
        "main": [
            'ALTER TABLE "posts" ENABLE ROW LEVEL SECURITY;',
            'CREATE POLICY "stk_posts_select_2" ON "posts" FOR SELECT TO "authenticated" '
            "USING (\"user_id\" = current_setting('request.auth.sub', true));",
        ]
    }


@pytest.mark.parametrize("sandbox", ["sqlite"], indirect=True)  # store-independent
def test_unenforceable_rules_are_refused_at_apply(sandbox: Sandbox) -> None:
    bootstrap(sandbox)
    first = release_id(sandbox.ok("apply", "--ref", "v1").out)
    path = sandbox.repo / "config" / "permissions.yaml"
    good = path.read_text()
    update = "        condition: \"resource.status == 'draft'\"\n"
    cases = {
        "resource.title > 10": "unsupported operator '>'",
        "resource.status != 'x'": "unsupported operator '!='",
        "resource.title.startsWith('a')": "function calls (startsWith)",
        "resource.id in [1]": "unsupported operator 'in'",
        "resource.status == 'x' && resource.title == 'y'": "'&&' is not supported",
        "'admin' in request.auth.roles": "unsupported operator 'in'",
        "resource.status == ": "not valid CEL: syntax error",
        "resource.stat == 'x'": "unknown column 'stat'",
        "resource.status == 5": "an int literal does not fit column 'status' (string)",
    }
    for condition, why in cases.items():
        path.write_text(good.replace(update, f"        condition: {json.dumps(condition)}\n"))
        run = sandbox.stk("apply", "--only", "permissions,release", "--ref", "bad")
        assert run.code == 1, condition
        assert "tables.posts.update[0].condition: posts.update rule #1:" in run.out, run.out
        assert why in run.out, run.out
    structural = {
        "columns: [title, body]\n    update": (
            "columns: [title, bodyy]\n    update",
            "tables.posts.insert[0].columns[1]: posts.insert rule #1: unknown column 'bodyy'",
        ),
        "  users:\n": ("  usrs:\n", "tables.usrs: unknown table 'usrs'"),
        "      - roles: [writer]\n        columns: [title, body]\n    update": (
            "      - roles: []\n        columns: [title, body]\n    update",
            "tables.posts.insert[0].roles: must not be empty",
        ),
        "    delete:": ("    remove:", "tables.posts.remove: unknown key 'remove'"),
    }
    for old, (new, why) in structural.items():
        assert old in good
        path.write_text(good.replace(old, new, 1))
        run = sandbox.stk("apply", "--only", "permissions,release", "--ref", "bad")
        assert run.code == 1, new
        assert why in run.out, run.out
    assert release_ids(sandbox) == [first]


@pytest.mark.parametrize("sandbox", ["sqlite"], indirect=True)  # store-independent
def test_the_hub_refuses_them_too(sandbox: Sandbox) -> None:
    """A client that skips the local check (or another version of stk) still gets no release."""
    bootstrap(sandbox)
    first = release_id(sandbox.ok("apply", "--ref", "v1").out)
    bearer = httpx.post(
        f"{sandbox.hub.url}/v1/auth/login",
        json={"email": "ops@example.com", "password": PASSWORD},
    ).json()["token"]
    files = {
        str(p.relative_to(sandbox.repo)): p.read_text() for p in (sandbox.repo / "schema").iterdir()
    }
    good = (sandbox.repo / "config" / "permissions.yaml").read_text()
    for condition in ("resource.title > 10", "resource.status == 5"):
        perms = good.replace("resource.status == 'draft'", condition)
        response = httpx.post(
            f"{sandbox.hub.url}/v1/projects/shop/envs/dev/apply",
            headers={"Authorization": f"Bearer {bearer}"},
            json={
                "ref": "bad",
                "only": ["permissions", "release"],
                "snapshot": {"schemaFiles": files, "permissionsFile": perms},
            },
            timeout=60,
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_FAILED"
        [finding] = error["details"]
        assert finding["path"] == "tables.posts.update[0].condition"
        assert finding["message"].startswith(f"posts.update rule #1: {condition!r}: ")
    assert release_ids(sandbox) == [first]
