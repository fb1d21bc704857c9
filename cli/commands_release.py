"""``stk release``: see what each env points at, promote a release, roll an env back."""

from __future__ import annotations

from typing import Annotated, Any

from cyclopts import App, Parameter

from . import context as ctx
from . import output
from .commands_local import JsonFlag
from .common import Opt, client, cwd, print_table, target

release_app = App(name="release", help="Releases: current, list, show, promote, rollback.")


@release_app.command(name="current")
def release_current(
    *, project: Opt = None, env: Opt = None, hub: Opt = None, json: JsonFlag = False
) -> int:
    """Show the release an env points at.

    Example: stk release current --project shop --env dev
    """
    proj, env_name = target(project, env)
    row = client(hub).get(f"/v1/projects/{proj}/envs/{env_name}/releases/current")
    if json:
        output.emit_json(row)
    else:
        output.line(
            f"{row['releaseId']}  ref {row['ref']}  created {row['createdAt']} by "
            f"{row['createdBy']}"
        )
    return 0


@release_app.command(name="list")
def release_list(
    *,
    project: Opt = None,
    env: Opt = None,
    limit: int = 20,
    hub: Opt = None,
    json: JsonFlag = False,
) -> int:
    """List the releases an env has pointed at, newest first.

    Example: stk release list --project shop --env dev --limit 20
    """
    proj, env_name = target(project, env)
    rows = client(hub).get(f"/v1/projects/{proj}/envs/{env_name}/releases?limit={limit}")
    if json:
        output.emit_json(rows)
    else:
        print_table(rows, ["releaseId", "ref", "status", "createdAt", "createdBy"])
    return 0


@release_app.command(name="show")
def release_show(
    *, release_id: str, project: Opt = None, hub: Opt = None, json: JsonFlag = False
) -> int:
    """Show a release: its ref, digest, tables per connection and where it is current.

    Example: stk release show --release-id rel_01J...
    """
    proj = ctx.resolve("project", project, cwd())
    row = client(hub).get(f"/v1/projects/{proj}/releases/{release_id}")
    if json:
        output.emit_json(row)
        return 0
    output.line(f"releaseId: {row['releaseId']}")
    output.line(f"ref: {row['ref']}")
    output.line(f"digest: {row['digest']}")
    output.line(f"created: {row['createdAt']} by {row['createdBy']}")
    output.line(f"current in: {', '.join(row['currentIn']) or '-'}")
    for conn, tables in sorted(row["tables"].items()):
        output.line(f"tables on {conn}: {', '.join(tables)}")
    output.line(f"permissions: {row['permissionsDigest']} ({', '.join(row['artifacts']) or '-'})")
    for table, entry in row["policy"].items():
        output.line(f"  {table} ({entry['connection']})")
        for op, rules in entry["ops"].items():
            output.line(f"    {op}: " + ("; ".join(_rule_text(r) for r in rules) or "nobody"))
    return 0


def _rule_text(rule: dict[str, Any]) -> str:
    text = ", ".join(rule["roles"])
    if rule["condition"]:
        text += f" where {rule['condition']}"
    if rule["columns"] != "*":
        text += f" [{', '.join(rule['columns'])}]"
    return text


@release_app.command(name="promote")
def release_promote(
    *,
    to: str,
    from_: Annotated[str | None, Parameter(name="--from")] = None,
    release_id: str | None = None,
    project: Opt = None,
    hub: Opt = None,
    json: JsonFlag = False,
) -> int:
    """Point an env at another env's current release, or at a given release (no DDL).

    Example: stk release promote --project shop --from dev --to prod
    """
    proj = ctx.resolve("project", project, cwd())
    if (from_ is None) == (release_id is None):
        from santokit.core.errors import UsageError

        raise UsageError("give --from ENV or --release-id ID (one of them)")
    body = {"to": to, "from": from_, "releaseId": release_id}
    row = client(hub).post(f"/v1/projects/{proj}/releases/promote", body)
    if json:
        output.emit_json(row)
    elif row.get("alreadyCurrent"):
        output.line(f"{proj}/{to} was already at {row['releaseId']}; nothing moved")
    else:
        output.line(
            f"{proj}/{to} now points at {row['releaseId']} (was {row['previous'] or 'none'})"
        )
    return 0


@release_app.command(name="rollback")
def release_rollback(
    *,
    to: Annotated[str, Parameter(name=["--to", "--to-release-id"])],
    project: Opt = None,
    env: Opt = None,
    hub: Opt = None,
    json: JsonFlag = False,
) -> int:
    """Point an env back at a release it had before (the schema is never rolled back).

    Example: stk release rollback --project shop --env prod --to rel_01J...
    """
    proj, env_name = target(project, env)
    row = client(hub).post(f"/v1/projects/{proj}/envs/{env_name}/releases/rollback", {"to": to})
    if json:
        output.emit_json(row)
    elif row.get("alreadyCurrent"):
        output.line(f"{proj}/{env_name} was already at {row['releaseId']}; nothing moved")
    else:
        output.line(
            f"{proj}/{env_name} now points at {row['releaseId']} (was {row['previous'] or 'none'})"
        )
    return 0
