"""``stk release``: see what each env points at, promote a release, roll an env back."""

from __future__ import annotations

from typing import Annotated, Any

from cyclopts import App, Parameter

from santokit.core.errors import UsageError

from . import context as ctx
from . import output
from .commands_local import JsonFlag
from .common import Column, EnvOpt, HubOpt, ProjectOpt, client, cwd, print_table, target

LIMIT_MAX = 1000  # the Hub's cap for one page of releases

release_app = App(name="release", help="Releases: current, list, show, promote, rollback.")


@release_app.command(name="current")
def release_current(
    *, project: ProjectOpt = None, env: EnvOpt = None, hub: HubOpt = None, json: JsonFlag = False
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
            f"{proj}/{env_name}: {row['releaseId']}  ref {row['ref']}  created "
            f"{row['createdAt']} by {row['createdBy']}"
        )
    return 0


@release_app.command(name="list")
def release_list(
    *,
    project: ProjectOpt = None,
    env: EnvOpt = None,
    limit: Annotated[int, Parameter(help=f"how many releases, newest first (1-{LIMIT_MAX})")] = 20,
    hub: HubOpt = None,
    json: JsonFlag = False,
) -> int:
    """List the releases an env has pointed at, newest first.

    Example: stk release list --project shop --env dev --limit 20
    """
    if not 1 <= limit <= LIMIT_MAX:
        raise UsageError(f"--limit must be between 1 and {LIMIT_MAX}, not {limit}")
    proj, env_name = target(project, env)
    rows = client(hub).get(f"/v1/projects/{proj}/envs/{env_name}/releases?limit={limit}")
    if json:
        output.emit_json(rows)
    else:
        print_table(
            rows,
            [
                Column("releaseId"),
                Column("ref"),
                Column("status", drop=1),
                Column("createdAt", drop=2),
                Column("createdBy", drop=3),
            ],
        )
    return 0


@release_app.command(name="show")
def release_show(
    *, release_id: str, project: ProjectOpt = None, hub: HubOpt = None, json: JsonFlag = False
) -> int:
    """Show a release: its ref, digest, tables per connection and where it is current.

    Example: stk release show --release-id rel_01J...

    Parameters
    ----------
    release_id
        the release's id, rel_... (stk release list shows them)
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
    project: ProjectOpt = None,
    hub: HubOpt = None,
    json: JsonFlag = False,
) -> int:
    """Point an env at another env's current release, or at a given release (no DDL).

    Example: stk release promote --project shop --from dev --to prod

    Parameters
    ----------
    to
        the env whose pointer moves
    from_
        the env whose current release is promoted
    release_id
        the release to point at instead, rel_... (stk release list shows them)
    """
    proj = ctx.resolve("project", project, cwd())
    if (from_ is None) == (release_id is None):
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
    project: ProjectOpt = None,
    env: EnvOpt = None,
    hub: HubOpt = None,
    json: JsonFlag = False,
) -> int:
    """Point an env back at a release it had before (the schema is never rolled back).

    Example: stk release rollback --project shop --env prod --to rel_01J...

    Parameters
    ----------
    to
        the release to point back at, rel_... (stk release list shows them)
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
