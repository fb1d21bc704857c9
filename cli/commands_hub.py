"""Commands that talk to the Hub: login, context, project, env, connections, apply."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

from cyclopts import App, Parameter

from santokit.core.errors import UsageError, ValidationFailed
from santokit.core.plugins import default_plugins
from santokit.core.validation import find_root, read_snapshot, validate_snapshot

from . import context as ctx
from . import credentials, output
from .client import HubClient, HubError
from .commands_local import JsonFlag
from .common import Column, EnvOpt, HubOpt, ProjectOpt, client, cwd, print_table, target


# -- auth ---------------------------------------------------------------------------------------
def login(
    *,
    email: str | None = None,
    password_stdin: bool = False,
    hub: HubOpt = None,
    json: JsonFlag = False,
) -> int:
    """Log in to the Hub; the token is kept in your user config folder (mode 0600).

    Example: stk login --email ops@example.com

    Parameters
    ----------
    email
        your operator email (asked for when not given)
    password_stdin
        read the password from the first line of stdin instead of a prompt
    """
    url = ctx.resolve("hub", hub, cwd())
    if email is None:
        email = input("email: ").strip()
    password = (
        sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("password: ")
    )
    result = HubClient(url, token="", need_login=False).post(
        "/v1/auth/login", {"email": email, "password": password}
    )
    credentials.save_token(url, result["token"], result["operator"]["email"], result["expiresAt"])
    if json:  # never the token: it stays in the credentials file
        output.emit_json(
            {"hub": url, "email": result["operator"]["email"], "expiresAt": result["expiresAt"]}
        )
        return 0
    output.line(
        f"logged in to {url} as {result['operator']['email']} (until {result['expiresAt']})"
    )
    return 0


def logout(*, hub: HubOpt = None, json: JsonFlag = False) -> int:
    """Log out: the Hub revokes the token and it is removed from this machine.

    Example: stk logout
    """
    url = ctx.resolve("hub", hub, cwd())
    if credentials.stored(url) is None:
        if json:
            output.emit_json({"hub": url, "loggedOut": False})
        else:
            output.line(f"not logged in to {url}")
        return 0
    stored = credentials.stored(url) or {}
    try:  # the stored token, not STK_TOKEN: that is the session this machine holds
        HubClient(url, token=stored.get("token", "")).post("/v1/auth/logout")
    except HubError as err:
        if err.code != "UNAUTHORIZED":  # already invalid on the Hub: forgetting it is right
            raise
    credentials.forget_token(url)
    if json:
        output.emit_json({"hub": url, "loggedOut": True})
    else:
        output.line(f"logged out of {url}")
    return 0


def whoami(*, hub: HubOpt = None, json: JsonFlag = False) -> int:
    """Show who you are logged in as, on which Hub, and your roles.

    Example: stk whoami
    """
    hub_client = client(hub)
    me = hub_client.get("/v1/auth/whoami")
    if json:
        output.emit_json(me)
        return 0
    output.line(f"{me['email']} on {hub_client.hub} (org role: {me['orgRole']})")
    for p in me["projects"]:
        output.line(f"  {p['project']}: {p['role']}")
    return 0


# -- context -----------------------------------------------------------------------------------
context_app = App(name="context", help="The repo context .stk/context.json (hub, project, env).")


@context_app.command(name="set")
def context_set(
    *,
    hub: str | None = None,
    project: str | None = None,
    env: str | None = None,
    connection: str | None = None,
    json: JsonFlag = False,
) -> int:
    """Merge values into .stk/context.json (created at the repository root if missing).

    Example: stk context set --hub http://127.0.0.1:8420 --project shop --env dev --connection main

    Parameters
    ----------
    hub
        the Hub URL, e.g. http://127.0.0.1:8420
    project
        the default project
    env
        the default env
    connection
        the default connection of stk connections set/test/show
    """
    updates = {"hubUrl": hub, "project": project, "env": env, "connection": connection}
    given = {k: v for k, v in updates.items() if v is not None}
    if not given:
        raise UsageError("nothing to set: pass --hub, --project, --env or --connection")
    path = ctx.save_context(cwd(), given)
    if json:
        output.emit_json({"path": str(path), "context": ctx.load_context(cwd())})
    else:
        output.line(f"context written to {path}")
    return 0


@context_app.command(name="show")
def context_show(*, json: JsonFlag = False) -> int:
    """Show the context file and where it is.

    Example: stk context show
    """
    path = ctx.find_context_file(cwd())
    data = ctx.load_context(cwd())
    if json:
        output.emit_json({"path": str(path) if path else None, "context": data})
        return 0
    if path is None:
        output.line("no .stk/context.json here or in a parent folder")
        return 0
    output.line(str(path))
    for key, value in sorted(data.items()):
        output.line(f"  {key}: {value}")
    return 0


@context_app.command(name="clear")
def context_clear(*, json: JsonFlag = False) -> int:
    """Delete the nearest .stk/context.json.

    Example: stk context clear
    """
    path = ctx.clear_context(cwd())
    if json:
        output.emit_json({"removed": str(path) if path else None})
    else:
        output.line(f"removed {path}" if path else "no context file to remove")
    return 0


# -- projects and envs --------------------------------------------------------------------------
project_app = App(name="project", help="Projects.")


@project_app.command(name="create")
def project_create(project: str, /, *, hub: HubOpt = None, json: JsonFlag = False) -> int:
    """Create a project; you become its admin.

    Example: stk project create shop

    Parameters
    ----------
    project
        the new project's name
    """
    row = client(hub).post("/v1/projects", {"name": project})
    if json:
        output.emit_json(row)
    else:
        output.line(f"project {row['name']} created")
    return 0


@project_app.command(name="list")
def project_list(*, hub: HubOpt = None, json: JsonFlag = False) -> int:
    """List the projects you have a role in.

    Example: stk project list
    """
    rows = client(hub).get("/v1/projects")
    if json:
        output.emit_json(rows)
    else:
        print_table(rows, [Column("name"), Column("role"), Column("createdAt", drop=1)])
    return 0


env_app = App(name="env", help="Environments of a project (dev, prod, ...).")


@env_app.command(name="create")
def env_create(
    env: str, /, *, project: ProjectOpt = None, hub: HubOpt = None, json: JsonFlag = False
) -> int:
    """Create an environment in a project.

    Example: stk env create --project shop prod

    Parameters
    ----------
    env
        the new env's name, e.g. dev or prod
    """
    proj = ctx.resolve("project", project, cwd())
    row = client(hub).post(f"/v1/projects/{proj}/envs", {"name": env})
    if json:
        output.emit_json(row)
    else:
        output.line(f"env {env} created in project {proj}")
    return 0


@env_app.command(name="list")
def env_list(*, project: ProjectOpt = None, hub: HubOpt = None, json: JsonFlag = False) -> int:
    """List the environments of a project.

    Example: stk env list --project shop
    """
    proj = ctx.resolve("project", project, cwd())
    rows = client(hub).get(f"/v1/projects/{proj}/envs")
    if json:
        output.emit_json(rows)
    else:
        print_table(rows, [Column("name"), Column("createdAt", drop=1)])
    return 0


# -- connections --------------------------------------------------------------------------------
connections_app = App(name="connections", help="Database connections of an environment.")


def _conn_name(name: str | None) -> str:
    return ctx.resolve("connection", name, cwd(), option="--name")


@connections_app.command(name="set")
def connections_set(
    *,
    name: str | None = None,
    engine: str | None = None,
    db_url: Annotated[
        str, Parameter(help="the URL, or - to read it from stdin", allow_leading_hyphen=True)
    ],
    schema: str | None = None,
    project: ProjectOpt = None,
    env: EnvOpt = None,
    hub: HubOpt = None,
    json: JsonFlag = False,
) -> int:
    """Register (or replace) a database connection; the URL is stored encrypted.

    Example: stk connections set --name main --db-url -

    Parameters
    ----------
    name
        the connection's name, as schema/*.yaml names it (default: the context's connection)
    engine
        the database engine (default: the Hub's one engine; stk plugins lists them)
    schema
        the database schema the tables live in (default: the engine's default namespace)
    """
    proj, env_name = target(project, env)
    conn = _conn_name(name)
    url = sys.stdin.readline().strip() if db_url == "-" else db_url
    row = client(hub).put(
        f"/v1/projects/{proj}/envs/{env_name}/connections/{conn}",
        {"dbUrl": url}
        | ({"engine": engine} if engine is not None else {})
        | ({"schema": schema} if schema is not None else {}),
    )
    if json:
        output.emit_json(row)  # the URL redacted, as the Hub returns it
    else:
        output.line(f"connection {conn} set for {proj}/{env_name}: {row['dbUrl']}")
    return 0


@connections_app.command(name="test")
def connections_test(
    *,
    name: str | None = None,
    project: ProjectOpt = None,
    env: EnvOpt = None,
    hub: HubOpt = None,
    json: JsonFlag = False,
) -> int:
    """Ask the Hub to connect to the database; exit 0 only if it could.

    Example: stk connections test --name main

    Parameters
    ----------
    name
        the connection to test (default: the context's connection)
    """
    proj, env_name = target(project, env)
    conn = _conn_name(name)
    result = client(hub).post(f"/v1/projects/{proj}/envs/{env_name}/connections/{conn}/test")
    if json:
        output.emit_json(result)
    else:
        server = result.get("server") or f"server {result['serverVersion']}"  # an older Hub
        output.line(f"ok: {conn} reached ({server}, {result['latencyMs']} ms)")
    return 0


@connections_app.command(name="list")
def connections_list(
    *, project: ProjectOpt = None, env: EnvOpt = None, hub: HubOpt = None, json: JsonFlag = False
) -> int:
    """List the connections of an environment (URLs redacted).

    Example: stk connections list --project shop --env prod
    """
    proj, env_name = target(project, env)
    rows = client(hub).get(f"/v1/projects/{proj}/envs/{env_name}/connections")
    if json:
        output.emit_json(rows)
    else:
        print_table(
            rows,
            [
                Column("name"),
                Column("engine", drop=3),
                Column("dbUrl"),  # redacted by the Hub: host, port and database, no password
                Column("schema", drop=1),
                Column("lastTestedAt", drop=2),
            ],
        )
    return 0


@connections_app.command(name="show")
def connections_show(
    *,
    name: str | None = None,
    project: ProjectOpt = None,
    env: EnvOpt = None,
    hub: HubOpt = None,
    json: JsonFlag = False,
) -> int:
    """Show one connection (URL redacted).

    Example: stk connections show --name main

    Parameters
    ----------
    name
        the connection to show (default: the context's connection)
    """
    proj, env_name = target(project, env)
    row = client(hub).get(f"/v1/projects/{proj}/envs/{env_name}/connections/{_conn_name(name)}")
    if json:
        output.emit_json(row)
    else:
        for key in ("name", "engine", "dbUrl", "schema", "createdAt", "updatedAt", "lastTestedAt"):
            output.line(f"{key}: {row.get(key) or '-'}")
    return 0


# -- apply --------------------------------------------------------------------------------------
def _print_plan(result: dict[str, Any]) -> None:
    """Every connection's header, each change (``+`` safe, ``!`` blocked) with its SQL, and
    the summary. A probable rename shows its RENAME first: the drop is never what leads."""
    for name, plan in sorted((result.get("schema") or {}).get("connections", {}).items()):
        output.line(f"connection {name}:")
        for change in plan["changes"]:
            marker = "+" if change["class"] == "safe" else "!"
            code = f" {change['code']}" if change["code"] else ""
            repair = " (drift repair)" if change.get("repair") else ""
            output.line(f"  {marker}{code} {change['description']}{repair}")
            rename = change.get("probableRename")
            if rename and change["class"] != "safe":
                output.line(f"      if it was renamed, run instead: {rename['sql']}")
                output.line("      as planned (blocked, never run):")
            for sql_line in change["sql"].splitlines():
                output.line(f"      {sql_line}")
        output.line(f"  {plan['summary']}")


def _print_refusal(code: str, details: list[Any]) -> None:
    if code == "VALIDATION_FAILED":
        for f in details:
            output.line(f"{f['file']}:{f['line']}:{f['column']}: {f['path']}: {f['message']}")
    elif code == "CHANGE_BLOCKED":
        for d in details:
            if isinstance(d, dict) and "description" in d:
                output.line(f"! {d.get('code', '')} {d['connection']}: {d['description']}")
                output.line(f"    why: {d['reason']}")
                output.line(f"    remedy: {d['remedy']}")
            elif isinstance(d, str):
                output.line(f"! {d}")
    elif code == "DRIFT_DETECTED":
        for d in details:
            if isinstance(d, dict) and "description" in d:
                output.line(f"drift {d['connection']}: {d['description']}")
                ways = d.get("waysOut") or {}
                if ways:
                    output.line(f"    way out 1: {ways['changeYaml']}")
                    output.line(f"    way out 2: {ways['restoreDatabase']}")


def _print_failure(err: HubError) -> None:
    """A refused apply: its plan in full when the Hub computed one, then why it stopped (a dry
    run lists every refusal the real run would meet)."""
    result = getattr(err, "result", None)
    if not isinstance(result, dict):
        _print_refusal(err.code, err.details)
        return
    _print_plan(result)
    refusals = result.get("refusals")
    if not isinstance(refusals, list):
        _print_refusal(err.code, err.details)
        return
    output.line("dry run: the real run would be refused:")
    for r in refusals:
        output.line(f"{r['code']}: {r['message']}")
        _print_refusal(r["code"], r.get("details") or [])


APPLY_STEPS = ("schema", "permissions", "release")


def _print_applied(result: dict[str, Any]) -> None:
    """After a real apply, what each connection's DDL did and how long it took (dry runs and
    connections with nothing to do print nothing here)."""
    for name, plan in sorted((result.get("schema") or {}).get("connections", {}).items()):
        done = plan.get("applied")
        if done:
            n = len(done)
            seconds = float(plan.get("durationMs") or 0) / 1000
            output.line(f"applied {n} change{'s' if n != 1 else ''} to {name} in {seconds:.2f} s")


def apply(
    *,
    ref: str,
    only: str | None = None,
    dry_run: bool = False,
    dir: Path | None = None,
    project: ProjectOpt = None,
    env: EnvOpt = None,
    hub: HubOpt = None,
    json: JsonFlag = False,
) -> int:
    """Validate, plan and apply the schema, then release (steps: schema,permissions,release).

    The files are validated locally first; nothing is sent while they have findings.

    Example: stk apply --only schema --dry-run --ref main

    Parameters
    ----------
    ref
        a label for the snapshot taken from the working tree, e.g. a git tag or commit
    only
        the steps to run, comma-separated: schema, permissions, release (default: all three)
    dry_run
        change nothing anywhere; print the plan and what each step would do
    dir
        repository root holding schema/ (default: the folder with .stk/, else the current one)
    """
    steps = [s.strip() for s in only.split(",") if s.strip()] if only is not None else None
    if steps == []:
        raise UsageError("--only names no step; use schema, permissions, release")
    unknown = [s for s in steps or () if s not in APPLY_STEPS]
    if unknown:  # a typo is a usage mistake, caught before anything is read or sent
        raise UsageError(f"--only: unknown step {unknown[0]!r}; steps are {', '.join(APPLY_STEPS)}")
    proj, env_name = target(project, env)
    hub_client = client(hub)
    root = dir.resolve() if dir else find_root(cwd())
    snapshot = read_snapshot(root)
    # the plugins' lint rules too, as the Hub runs them: a file never passes here and fails there
    local = validate_snapshot(snapshot, default_plugins().diff_rules())
    if not local.ok:
        if json:
            output.emit_json(
                {
                    "error": {
                        "code": "VALIDATION_FAILED",
                        "message": "the files have findings; nothing was sent to the Hub",
                        "details": [f.to_json() for f in local.findings],
                    }
                }
            )
        else:
            for finding in local.findings:
                output.line(str(finding))
        raise ValidationFailed(local.findings)
    for finding in local.findings:  # warnings only here: errors stopped above
        output.notice(str(finding))
    body = {
        "ref": ref,
        "only": steps,
        "dryRun": dry_run,
        "snapshot": {
            "schemaFiles": {k: v.decode("utf-8") for k, v in snapshot.schema_files.items()},
            "permissionsFile": snapshot.permissions_file.decode("utf-8")
            if snapshot.permissions_file is not None
            else None,
        },
    }
    path = f"/v1/projects/{proj}/envs/{env_name}/apply"
    try:
        with output.progress(f"applying {ref} to {proj}/{env_name}"):
            result = hub_client.post(path, body)
    except HubError as err:
        if json:
            output.emit_json(
                {
                    "error": {
                        "code": err.code,
                        "message": err.hub_message,
                        "requestId": err.request_id,
                        "details": err.details,
                    }
                    | ({"result": err.result} if getattr(err, "result", None) else {})
                }
            )
        else:
            _print_failure(err)
        raise
    if json:
        output.emit_json(result)
        return 0
    _print_plan(result)
    _print_applied(result)
    if result.get("permissions"):
        compiled = result["permissions"]
        output.line(
            f"permissions: {len(compiled['tables'])} table(s) compiled "
            f"({', '.join(compiled['artifacts'])})"
        )
    if result.get("permissionsCarried"):
        output.line("permissions: unchanged (the step was skipped: the current release's are kept)")
    if result.get("releaseId"):
        state = "reused" if result.get("reused") else "created"
        output.notice(f"release {state} for {proj}/{env_name}")
        output.line(f"releaseId={result['releaseId']}")
    elif dry_run:
        output.line("dry run: nothing was changed")
    return 0
