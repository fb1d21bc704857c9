"""Issue 12: every next step the tool prints works when pasted, and no remedy destroys data.

Each remedy here is taken from the tool's own output, run through the real ``stk`` (or, for
SQL to run by hand, on the database), and then the original command is run again: it must pass.
"""

from __future__ import annotations

import json
import re

import pytest

from .e2e import Sandbox
from .pg import execute, rows
from .test_e2e_flow01 import bootstrap
from .test_e2e_flow06 import edit
from .test_e2e_flow08 import release_id


def suggested(text: str, prefix: str = "stk apply") -> list[str]:
    """The stk commands a message suggests, as argv lists (ending at ``;`` or the line end)."""
    found = re.findall(rf"({prefix} [^;\n()]*?)(?:;|\n|$| \()", text)
    return [c.strip().rstrip(".").split()[1:] for c in found]


def sql_after(marker: str, text: str) -> str:
    line = next(ln for ln in text.splitlines() if marker in ln)
    return line.split(marker, 1)[1].strip()


@pytest.mark.parametrize("sandbox", ["sqlite"], indirect=True)  # store-independent
def test_dry_runs_promote_and_rollback_remedies_work(sandbox: Sandbox) -> None:
    bootstrap(sandbox)
    r1 = release_id(sandbox.ok("apply", "--ref", "v1").out)
    sandbox.ok("apply", "--project", "shop", "--env", "prod", "--only", "schema", "--ref", "v1")
    sandbox.ok("release", "promote", "--project", "shop", "--from", "dev", "--to", "prod")

    # 12.3: a safe change whose schema step alone would strand the release: the dry run shows
    # the whole plan, every connection, then why the real run stops, suggesting a dry run
    edit(
        sandbox,
        "      nickname:   { type: string }",
        "      nickname:   { type: string, default: anon }",
    )
    dry = sandbox.stk("apply", "--only", "schema", "--dry-run", "--ref", "v2")
    assert dry.code == 1, dry.out + dry.err
    assert "connection analytics:" in dry.out
    assert "connection main:" in dry.out
    assert "+ set default users.nickname: none -> 'anon'" in dry.out
    assert "0 to add, 1 to change, 0 blocked" in dry.out
    assert dry.out.index("set default") < dry.out.index("the real run would be refused")
    [command] = suggested(dry.out)
    assert command[-1] == "--dry-run", command
    sandbox.ok(*command)  # the suggestion, as printed: itself a dry run, and it passes
    r2 = release_id(sandbox.ok(*command[:-1]).out)  # and for real
    assert r2 != r1

    # 12.4: promote's remedy is computed by the apply gate: applying the schema alone would
    # strand prod's current release, so the remedy applies schema and release together
    refused = sandbox.stk(
        "release", "promote", "--project", "shop", "--from", "dev", "--to", "prod"
    )
    assert refused.code == 1
    assert "users.nickname: default: 'anon' -> none (declared -> database)" in refused.err
    assert "--only schema" not in refused.err
    [remedy] = suggested(refused.err)
    assert remedy == ["apply", "--project", "shop", "--env", "prod", "--ref", "v2"]
    assert release_id(sandbox.ok(*remedy).out) == r2  # the same content: the same release
    again = sandbox.ok("release", "promote", "--project", "shop", "--from", "dev", "--to", "prod")
    assert f"shop/prod was already at {r2}; nothing moved" in again.out

    # rollback never suggests a schema rollback: it says what is possible
    back = sandbox.stk("release", "rollback", "--project", "shop", "--env", "prod", "--to", r1)
    assert back.code == 1
    assert "RELEASE_INCOMPATIBLE" in back.err
    assert "the schema is never rolled back" in back.err
    assert "--only schema" not in back.err
    assert "none of env prod's earlier releases fits" in back.err

    # 12.8: --only schema,release keeps the current release's permissions
    perms_r2 = json.loads(sandbox.ok("release", "show", "--release-id", r2, "--json").out)
    edit(sandbox, "roles: [service]", "roles: [service, auditor]", file="config/permissions.yaml")
    edit(sandbox, "      nickname:", "      bio: { type: string }\n      nickname:")
    kept = sandbox.ok("apply", "--only", "schema,release", "--ref", "v3")
    assert "permissions: unchanged" in kept.out
    r3 = release_id(kept.out)
    shown = json.loads(sandbox.ok("release", "show", "--release-id", r3, "--json").out)
    assert shown["permissionsDigest"] == perms_r2["permissionsDigest"]
    assert "auditor" not in json.dumps(shown["policy"])
    r4 = release_id(sandbox.ok("apply", "--only", "permissions,release", "--ref", "v4").out)
    shown = json.loads(sandbox.ok("release", "show", "--release-id", r4, "--json").out)
    assert "auditor" in json.dumps(shown["policy"])


@pytest.mark.parametrize("sandbox", ["sqlite"], indirect=True)  # store-independent
def test_renames_and_drift_remedies_work(sandbox: Sandbox) -> None:
    urls = bootstrap(sandbox)
    sandbox.ok("apply", "--ref", "v1")
    execute(urls["dev_main"], "insert into users (id, email) values ('u1', 'a@x')")
    execute(urls["dev_main"], "insert into posts (user_id, title) values ('u1', 'keep me')")

    # a renamed column: reported as a probable rename, RENAME first, never the DROP first
    edit(sandbox, "      title:  { type: string }", "      name:  { type: string }")
    perms = sandbox.repo / "config" / "permissions.yaml"
    perms.write_text(perms.read_text().replace("title", "name"))
    for args in (("--dry-run",), ()):
        run = sandbox.stk("apply", "--only", "schema", *args, "--ref", "v2")
        assert run.code == 1
        assert "CHANGE_BLOCKED" in run.err
        text = run.out
        assert "probable rename posts.title -> posts.name" in text
        rename = 'ALTER TABLE "public"."posts" RENAME COLUMN "title" TO "name"'
        assert text.index(rename) < text.index("DROP COLUMN")
    assert "remedy: if posts.title was renamed to posts.name" in run.out
    execute(urls["dev_main"], sql_after("run instead:", run.out))
    sandbox.ok("apply", "--only", "schema", "--ref", "v2")
    sandbox.ok("apply", "--ref", "v2")
    assert rows(urls["dev_main"], "select name from posts") == [("keep me",)]

    # a dropped index: --only schema really repairs it, and the plan says it is a repair
    execute(urls["dev_main"], "drop index users_nickname_idx")
    drift = sandbox.stk("apply", "--ref", "v3")
    assert drift.code == 1
    assert "DRIFT_DETECTED" in drift.err
    assert "users.users_nickname_idx (index): dropped in the database by hand" in drift.out
    way = sql_after("way out 2:", drift.out)
    assert "(it adds it back)" in way
    # the command is printed whole (project, env, ref), so pasted as printed it runs
    [command] = suggested(way)
    assert command == "apply --project shop --env dev --only schema --ref v3".split(), way
    repaired = sandbox.ok(*command)
    assert "+ create index users.users_nickname_idx (drift repair)" in repaired.out
    sandbox.ok("apply", "--ref", "v3")

    # a dropped foreign key: MF103 blocks the repair, so way out 2 gives the SQL to run by hand
    execute(urls["dev_main"], "alter table posts drop constraint posts_user_id_fkey")
    for args in (("--dry-run",), ()):
        drift = sandbox.stk("apply", *args, "--ref", "v4")
        assert drift.code == 1
        assert "DRIFT_DETECTED" in drift.err
    way = sql_after("way out 2:", drift.out)
    assert "stk apply --only schema" not in way.split("(", 1)[0]
    assert "adds it back" not in way
    sql = way.split("then apply: ", 1)[1]
    assert sql.startswith('ALTER TABLE "public"."posts" ADD CONSTRAINT')
    execute(urls["dev_main"], sql)
    sandbox.ok("apply", "--ref", "v4")
