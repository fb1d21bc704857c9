"""Flow 08 of the seed as written: promote dev -> prod, the compatibility gate, rollback."""

from __future__ import annotations

import json

import pytest

from .e2e import Sandbox
from .test_e2e_flow01 import bootstrap


def release_id(run_out: str) -> str:
    last = run_out.splitlines()[-1]
    assert last.startswith("releaseId=rel_"), run_out
    return last.removeprefix("releaseId=")


def test_flow_08_promote_and_rollback(sandbox: Sandbox) -> None:
    bootstrap(sandbox)
    r1 = release_id(sandbox.ok("apply", "--ref", "v1").out)
    main = sandbox.repo / "schema" / "main.yaml"
    main.write_text(
        main.read_text().replace("      nickname:", "      bio: { type: string }\n      nickname:")
    )
    r2 = release_id(sandbox.ok("apply", "--ref", "v2").out)
    assert r2 != r1

    # prod's databases lack the schema: refused, pointer unchanged
    refused = sandbox.stk(
        "release", "promote", "--project", "shop", "--from", "dev", "--to", "prod"
    )
    assert refused.code == 1
    assert "RELEASE_INCOMPATIBLE" in refused.err
    assert "stk apply --project shop --env prod --only schema --ref v2" in refused.err
    assert sandbox.stk("release", "current", "--project", "shop", "--env", "prod").code == 1

    shown = json.loads(sandbox.ok("release", "show", "--release-id", r2, "--json").out)
    assert shown["ref"] == "v2"
    assert shown["currentIn"] == ["dev"]
    sandbox.ok(
        "apply", "--project", "shop", "--env", "prod", "--only", "schema", "--ref", shown["ref"]
    )
    sandbox.ok("release", "promote", "--project", "shop", "--from", "dev", "--to", "prod")
    current = json.loads(
        sandbox.ok("release", "current", "--project", "shop", "--env", "prod", "--json").out
    )
    assert current["releaseId"] == r2
    listed = json.loads(
        sandbox.ok(
            "release", "list", "--project", "shop", "--env", "prod", "--limit", "20", "--json"
        ).out
    )
    assert [(r["releaseId"], r["status"]) for r in listed] == [(r2, "current")]
    dev_list = json.loads(
        sandbox.ok("release", "list", "--project", "shop", "--env", "dev", "--json").out
    )
    assert [r["releaseId"] for r in dev_list] == [r2, r1]  # no new release was created

    # explicit promote of a given release id, then rollback
    sandbox.ok("release", "promote", "--project", "shop", "--to", "prod", "--release-id", r2)
    never = sandbox.stk("release", "rollback", "--project", "shop", "--env", "prod", "--to", r1)
    assert never.code == 1
    assert "NOT_FOUND" in never.err
    unknown = sandbox.stk(
        "release", "rollback", "--project", "shop", "--env", "prod", "--to", "rel_01NOPE"
    )
    assert unknown.code == 1
    assert "NOT_FOUND" in unknown.err
    back = sandbox.ok(
        "release", "rollback", "--project", "shop", "--env", "dev", "--to-release-id", r1
    )
    assert r1 in back.out
    assert (
        json.loads(sandbox.ok("release", "current", "--env", "dev", "--json").out)["releaseId"]
        == r1
    )


@pytest.mark.parametrize("sandbox", ["sqlite"], indirect=True)  # store-independent
def test_schema_alone_may_not_strand_the_current_release(sandbox: Sandbox) -> None:
    bootstrap(sandbox)
    first = release_id(sandbox.ok("apply", "--ref", "v1").out)
    main = sandbox.repo / "schema" / "main.yaml"
    main.write_text(
        main.read_text().replace(
            "      nickname:   { type: string }",
            "      nickname:   { type: string, default: anon }",
        )
    )
    refused = sandbox.stk("apply", "--only", "schema", "--ref", "v2")
    assert refused.code == 1
    assert "CHANGE_BLOCKED" in refused.err
    assert f"current release {first} unable to run" in refused.err
    assert "stk apply --project shop --env dev --ref v2" in refused.err
    assert (
        "! main: users.nickname: default: none -> 'anon' (the release -> after this apply)"
        in refused.out
    )
    second = release_id(sandbox.ok("apply", "--ref", "v2").out)
    assert second != first
