"""``stk apikey``: project API keys for services and CI (Flow 02): create, list, revoke."""

from __future__ import annotations

from typing import Annotated

from cyclopts import App, Parameter

from santokit.core import apikeys
from santokit.core.errors import UsageError

from . import output
from .commands_local import JsonFlag
from .common import Column, EnvOpt, HubOpt, ProjectOpt, client, print_table, target

apikey_app = App(name="apikey", help="Project API keys of an env: create, list, revoke.")


@apikey_app.command(name="create")
def apikey_create(
    *,
    name: Annotated[str, Parameter(help="what the key is for, e.g. the service using it")],
    roles: Annotated[str, Parameter(help="comma-separated roles, e.g. service,reader")],
    allow_unknown_roles: Annotated[
        bool,
        Parameter(
            negative="",
            help="accept roles no rule of the env's current release names yet (with a warning)",
        ),
    ] = False,
    project: ProjectOpt = None,
    env: EnvOpt = None,
    hub: HubOpt = None,
    json: JsonFlag = False,
) -> int:
    """Create an API key; it is printed this once and never shown again.

    Prints keyId=... and apiKey=... on stdout; store the key in your secret manager. Roles no
    rule of the env's current release names are refused unless --allow-unknown-roles is given.

    Example: stk apikey create --name checkout --roles service,reader
    """
    proj, env_name = target(project, env)
    role_list = [r.strip() for r in roles.split(",") if r.strip()]
    if not role_list:
        raise UsageError("--roles names no role; e.g. --roles service")
    row = client(hub).post(
        f"/v1/projects/{proj}/envs/{env_name}/apikeys",
        {"name": name, "roles": role_list, "allowUnknownRoles": allow_unknown_roles},
    )
    for warning in row.get("warnings", ()):
        output.notice(f"warning: {warning}")
    if json:  # the one JSON document that holds a key: create's answer
        output.emit_json(row)
    else:
        output.line(f"keyId={row['keyId']}")
        output.line(f"apiKey={row['apiKey']}")
    output.notice(
        f"the API key of {proj}/{env_name} is shown only this once: store it now; "
        "stk apikey list shows its keyId, never the key"
    )
    return 0


@apikey_app.command(name="list")
def apikey_list(
    *, project: ProjectOpt = None, env: EnvOpt = None, hub: HubOpt = None, json: JsonFlag = False
) -> int:
    """List an env's API keys (active and revoked); never the keys themselves.

    Example: stk apikey list --project shop --env prod
    """
    proj, env_name = target(project, env)
    rows = client(hub).get(f"/v1/projects/{proj}/envs/{env_name}/apikeys")
    if json:
        output.emit_json(rows)
    else:
        print_table(
            rows,
            [
                Column("keyId"),
                Column("name"),
                Column("roles"),
                # never dropped: active or revoked is what Flow 02's list is read for
                Column("status"),
                Column("createdAt", drop=3),
                Column("lastUsedAt", drop=2),
            ],
        )
    return 0


@apikey_app.command(name="revoke")
def apikey_revoke(
    *,
    key_id: str,
    project: ProjectOpt = None,
    env: EnvOpt = None,
    hub: HubOpt = None,
    json: JsonFlag = False,
) -> int:
    """Revoke an API key: its very next use fails.

    Example: stk apikey revoke --project shop --env prod --key-id abcdefgh2345

    Parameters
    ----------
    key_id
        the key's id (stk apikey list shows them), never the key itself
    """
    proj, env_name = target(project, env)
    parsed = apikeys.parse(key_id)
    if parsed is not None:  # a whole key pasted: never send it, point at its id
        raise UsageError(
            f"--key-id takes the key's id, not the key; this key's id is {parsed.key_id}"
        )
    if not apikeys.is_key_id(key_id):
        raise UsageError(
            f"--key-id must be a key id: {apikeys.KEY_ID_LEN} characters of a-z and 2-7 "
            "(stk apikey list shows them)"
        )
    row = client(hub).post(f"/v1/projects/{proj}/envs/{env_name}/apikeys/{key_id}/revoke")
    if json:
        output.emit_json(row)
    else:
        output.line(f"key {row['keyId']} ({row['name']}) revoked in {proj}/{env_name}")
    return 0
