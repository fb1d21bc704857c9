"""Flow 02 of the seed as written (API keys: create, list, rotate, revoke) and the Hub side of the
Bridge protocol, on a real Hub process, the real stk, and both stores."""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from santokit.core import apikeys
from santokit.core.release import Release

from .conftest import run_stk
from .e2e import BRIDGE_TOKENS, PASSWORD, HubProcess, Run, Sandbox
from .pg import schema_dump
from .test_e2e_flow01 import bootstrap
from .test_e2e_flow08 import release_id

BRIDGE = {"Authorization": f"Bearer {BRIDGE_TOKENS[0]}"}


def setup(sb: Sandbox) -> None:
    sb.operator()
    sb.ok("context", "set", "--hub", sb.hub.url, "--project", "shop", "--env", "dev")
    assert sb.login().code == 0
    sb.ok("project", "create", "shop")
    sb.ok("env", "create", "--project", "shop", "dev")
    sb.ok("env", "create", "--project", "shop", "prod")


def created(run: Run) -> tuple[str, str]:
    """(keyId, apiKey) from the two lines create prints."""
    lines = run.out.splitlines()
    assert len(lines) == 2, run.out
    assert lines[0].startswith("keyId=")
    assert lines[1].startswith("apiKey=stk_")
    assert "only this once" in run.err
    return lines[0].removeprefix("keyId="), lines[1].removeprefix("apiKey=")


def verify(sb: Sandbox, key: str, token: str = BRIDGE_TOKENS[0], **bind: str) -> httpx.Response:
    return httpx.post(
        f"{sb.hub.url}/internal/apikeys/verify",
        json={"apiKey": key, **bind},
        headers={"Authorization": f"Bearer {token}"},
    )


def operator_token(sb: Sandbox) -> dict[str, str]:
    stored = json.loads((sb.repo.parent / "config" / "credentials.json").read_text())
    return {"Authorization": f"Bearer {next(iter(stored['hubs'].values()))['token']}"}


def store_texts(sb: Sandbox) -> list[str]:
    """Everything the store holds, as text: the SQLite files' bytes, or a pg_dump with rows."""
    if sb.hub.store is None:
        return [
            p.read_bytes().decode("latin-1") for p in sb.hub.data_dir.glob("hub.db*") if p.is_file()
        ]
    return [schema_dump(sb.hub.store, data=True)]


def test_flow_02_create_list_rotate_revoke(sandbox: Sandbox) -> None:
    setup(sandbox)
    # A. create: context form, then explicit form
    first = sandbox.ok("apikey", "create", "--name", "checkout", "--roles", "service,reader")
    id1, key1 = created(first)
    second = sandbox.ok(
        "apikey",
        "create",
        "--project",
        "shop",
        "--env",
        "dev",
        "--name",
        "worker",
        "--roles",
        "service",
    )
    id2, key2 = created(second)
    assert id1 != id2
    assert key1.startswith(f"stk_dev_{id1}_")
    for key_id, key, roles in ((id1, key1, ["service", "reader"]), (id2, key2, ["service"])):
        answer = verify(sandbox, key)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"keyId": key_id, "project": "shop", "env": "dev", "roles": roles}

    # B. list: both forms, metadata only
    table = sandbox.ok("apikey", "list").out
    explicit = sandbox.ok("apikey", "list", "--project", "shop", "--env", "dev").out
    assert table == explicit
    header = table.splitlines()[0].split()
    assert header == ["keyId", "name", "roles", "status", "createdAt", "lastUsedAt"]
    assert id1 in table
    assert "service,reader" in table
    deadline = time.monotonic() + 10  # lastUsedAt is written off the request path
    while True:
        listed = {k["keyId"]: k for k in json.loads(sandbox.ok("apikey", "list", "--json").out)}
        if all(k["lastUsedAt"] for k in listed.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert set(listed) == {id1, id2}
    assert all(k["status"] == "active" and k["lastUsedAt"] for k in listed.values())

    # C. rotation: a new key, then the old one revoked (context form): blocked at once
    third = sandbox.ok(
        "apikey",
        "create",
        "--project",
        "shop",
        "--env",
        "dev",
        "--name",
        "checkout-v2",
        "--roles",
        "service,reader",
    )
    id3, key3 = created(third)
    assert id1 in sandbox.ok("apikey", "revoke", "--key-id", id1).out
    refused = verify(sandbox, key1)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "UNAUTHORIZED"
    assert verify(sandbox, key2).status_code == 200
    assert verify(sandbox, key3).status_code == 200

    # D. revoke, explicit form; revoking again changes nothing
    sandbox.ok("apikey", "revoke", "--project", "shop", "--env", "dev", "--key-id", id2)
    assert verify(sandbox, key2).status_code == 401
    again = json.loads(sandbox.ok("apikey", "revoke", "--key-id", id2, "--json").out)
    assert again["status"] == "revoked"
    listed = {k["keyId"]: k for k in json.loads(sandbox.ok("apikey", "list", "--json").out)}
    assert {k: v["status"] for k, v in listed.items()} == {
        id1: "revoked",
        id2: "revoked",
        id3: "active",
    }
    assert listed[id1]["revokedAt"]
    assert listed[id3]["lastUsedAt"]
    assert "revoked" in sandbox.ok("apikey", "list").out

    # the audit log has both actions, with ids and names, never a key
    audit = httpx.get(
        f"{sandbox.hub.url}/v1/projects/shop/audit", headers=operator_token(sandbox)
    ).json()
    actions = [(e["action"], e["detail"].get("keyId")) for e in audit if "apikey" in e["action"]]
    assert actions == [
        ("apikey.revoke", id2),
        ("apikey.revoke", id1),
        ("apikey.create", id3),
        ("apikey.create", id2),
        ("apikey.create", id1),
    ]

    # the keys appear nowhere but in their create's answer: not in any other output (list,
    # --json, revoke), the hub log or the audit rows; the store holds only their sha256
    shown = [r.out + r.err for r in sandbox.transcript if r.args[:2] != ("apikey", "create")]
    shown += [sandbox.hub.log.read_text(), json.dumps(audit)]
    stored = store_texts(sandbox)
    assert any(apikeys.key_hash(key1) in text for text in stored)
    for key in (key1, key2, key3):
        parsed = apikeys.parse(key)
        assert parsed is not None
        for text in shown + stored:
            assert key not in text
            assert parsed.secret not in text
        for text in shown:
            assert apikeys.key_hash(key) not in text


def test_keys_are_bound_to_project_and_env(sandbox: Sandbox) -> None:
    setup(sandbox)
    sandbox.ok("project", "create", "other")
    sandbox.ok("env", "create", "--project", "other", "dev")
    _, dev_key = created(sandbox.ok("apikey", "create", "--name", "a", "--roles", "service"))
    _, prod_key = created(
        sandbox.ok("apikey", "create", "--env", "prod", "--name", "b", "--roles", "service")
    )
    _, other_key = created(
        sandbox.ok("apikey", "create", "--project", "other", "--name", "c", "--roles", "service")
    )
    assert verify(sandbox, prod_key).json()["env"] == "prod"  # the Bridge sees the env
    assert verify(sandbox, dev_key, project="shop", env="dev").status_code == 200
    assert verify(sandbox, other_key, project="other", env="dev").status_code == 200
    messages = set()
    for key, bind in (
        (dev_key, {"env": "prod"}),
        (prod_key, {"env": "dev"}),
        (other_key, {"project": "shop"}),
        (dev_key, {"project": "other", "env": "dev"}),
        ("stk_dev_notakey", {}),
        (dev_key[:-1] + ("0" if dev_key[-1] != "0" else "1"), {}),  # a bad checksum
        (apikeys.generate("dev").key, {}),  # well formed, unknown
    ):
        answer = verify(sandbox, key, **bind)
        assert answer.status_code == 401, (key, bind)
        messages.add(answer.json()["error"]["message"])
    assert len(messages) == 1  # nothing tells one refusal from another
    # a body that is not what the route expects: 400 naming the field
    missing = httpx.post(f"{sandbox.hub.url}/internal/apikeys/verify", json={}, headers=BRIDGE)
    assert missing.status_code == 400
    assert "apiKey" in missing.json()["error"]["message"]
    wrong_type = httpx.post(
        f"{sandbox.hub.url}/internal/apikeys/verify", json={"apiKey": 42}, headers=BRIDGE
    )
    assert wrong_type.status_code == 400


def test_who_may_manage_keys_and_what_is_refused(sandbox: Sandbox) -> None:
    setup(sandbox)
    key_id, _ = created(sandbox.ok("apikey", "create", "--name", "a", "--roles", "service"))
    for role in ("viewer", "deployer"):
        email = f"{role}@example.com"
        sandbox.operator(email)
        sandbox.ok(
            "hub",
            "grant",
            "--email",
            email,
            "--project",
            "shop",
            "--role",
            role,
            *sandbox.hub.store_args,
        )
        env = {"STK_CONFIG_DIR": str(sandbox.repo.parent / f"{role}-config")}
        login = sandbox.stk(
            "login", "--email", email, "--password-stdin", stdin=PASSWORD + "\n", env=env
        )
        assert login.code == 0
        for args in (
            ("apikey", "create", "--name", "x", "--roles", "service"),
            ("apikey", "list"),
            ("apikey", "revoke", "--key-id", key_id),
        ):
            run = sandbox.stk(*args, env=env)
            assert run.code == 1, (role, args)
            assert "FORBIDDEN" in run.err
            assert "needs the admin role" in run.err
    unknown = sandbox.stk("apikey", "revoke", "--key-id", "aaaaaaaaaaaa")
    assert unknown.code == 1
    assert "NOT_FOUND" in unknown.err
    for not_an_id in ("?x=1", "../..", "AAAAAAAAAAAA"):
        run = sandbox.stk("apikey", "revoke", "--key-id", not_an_id)
        assert run.code == 2, not_an_id
        assert "--key-id must be a key id" in run.err
    pasted = apikeys.generate("dev")
    run = sandbox.stk("apikey", "revoke", "--key-id", pasted.key)
    assert run.code == 2
    assert f"this key's id is {pasted.key_id}" in run.err
    assert pasted.key not in run.err + run.out
    assert pasted.key not in sandbox.hub.log.read_text()
    for reserved in ("authenticated", "public"):
        run = sandbox.stk("apikey", "create", "--name", "x", "--roles", f"service,{reserved}")
        assert run.code == 1
        assert f"{reserved!r} is reserved for end users" in run.err
    elsewhere = sandbox.stk("apikey", "revoke", "--env", "prod", "--key-id", key_id)
    assert elsewhere.code == 1  # a key of dev is not prod's to revoke
    assert "NOT_FOUND" in elsewhere.err
    assert sandbox.stk("apikey", "list", "--env", "staging").code == 1
    bad_role = sandbox.stk("apikey", "create", "--name", "x", "--roles", "service,Bad Role")
    assert bad_role.code == 1
    assert "roles" in bad_role.err
    assert "BAD_REQUEST" in bad_role.err
    assert sandbox.stk("apikey", "create", "--name", "x", "--roles", ",").code == 2
    assert sandbox.stk("apikey", "create", "--roles", "service").code == 2
    assert sandbox.stk("apikey", "create", "--name", " ", "--roles", "service").code == 1
    json.loads(sandbox.ok("apikey", "list", "--json").out)
    created_json = json.loads(
        sandbox.ok("apikey", "create", "--name", "j", "--roles", "service", "--json").out
    )
    assert created_json["apiKey"].startswith("stk_dev_")
    assert verify(sandbox, created_json["apiKey"]).status_code == 200


def test_at_most_100_active_keys_per_env(sandbox: Sandbox) -> None:
    setup(sandbox)
    auth = operator_token(sandbox)
    base = f"{sandbox.hub.url}/v1/projects/shop/envs/dev/apikeys"
    with httpx.Client(headers=auth, timeout=30) as http:
        ids = []
        for i in range(100):
            answer = http.post(base, json={"name": f"k{i}", "roles": ["service"]})
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["keyId"])
        full = sandbox.stk("apikey", "create", "--name", "one-more", "--roles", "service")
        assert full.code == 1
        assert "CONFLICT" in full.err
        assert "100 active keys" in full.err
        sandbox.ok("apikey", "create", "--env", "prod", "--name", "prod", "--roles", "service")
        assert http.post(f"{base}/{ids[0]}/revoke").status_code == 200
        assert http.post(base, json={"name": "again", "roles": ["service"]}).status_code == 201
        assert len(http.get(base).json()) == 101


def test_bridge_routes(sandbox: Sandbox) -> None:
    urls = bootstrap(sandbox)
    hub = sandbox.hub.url
    rel1 = release_id(sandbox.ok("apply", "--ref", "v1").out)

    # auth: none, wrong, either of the two tokens
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": BRIDGE_TOKENS[0]}):
        for path in (
            "/internal/releases/current?project=shop&env=dev",
            f"/internal/releases/{rel1}",
            "/internal/connections?project=shop&env=dev",
            "/internal/releases/current",  # no token and no parameters: still 401 first
        ):
            answer = httpx.get(f"{hub}{path}", headers=headers)
            assert answer.status_code == 401, (path, headers)
            assert answer.json()["error"]["code"] == "UNAUTHORIZED"
        verify_call = httpx.post(f"{hub}/internal/apikeys/verify", json={}, headers=headers)
        assert verify_call.status_code == 401
    for token in BRIDGE_TOKENS:
        answer = httpx.get(
            f"{hub}/internal/releases/current?project=shop&env=dev",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200

    # current release, with an ETag; 304 while it does not change
    current = httpx.get(f"{hub}/internal/releases/current?project=shop&env=dev", headers=BRIDGE)
    assert current.json()["releaseId"] == rel1
    assert set(current.json()) == {"project", "env", "releaseId", "updatedAt"}
    etag = current.headers["etag"]
    same = httpx.get(
        f"{hub}/internal/releases/current?project=shop&env=dev",
        headers={**BRIDGE, "If-None-Match": etag},
    )
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["etag"] == etag

    # the full release: every key of the snapshot, cacheable forever
    full = httpx.get(f"{hub}/internal/releases/{rel1}", headers=BRIDGE)
    assert full.status_code == 200
    body = full.json()
    assert {"schema", "permissions", "releaseId", "digest", "ref", "createdAt"} <= set(body)
    assert body["ref"] == "v1"
    assert "posts" in json.dumps(body["permissions"])  # whatever shape the compiled form has
    assert set(body["schema"]["connections"]) == {"main", "analytics"}
    assert "immutable" in full.headers["cache-control"]
    assert full.headers["etag"] == f'"{body["digest"]}"'
    # what the Bridge will do with it: the one parser, which checks the digest it names
    assert Release.from_json(full.content).digest == body["digest"]
    cached = httpx.get(
        f"{hub}/internal/releases/{rel1}", headers={**BRIDGE, "If-None-Match": full.headers["etag"]}
    )
    assert cached.status_code == 304

    # a new release changes the ETag
    main = sandbox.repo / "schema" / "main.yaml"
    main.write_text(
        main.read_text().replace("      nickname:", "      bio: { type: string }\n      nickname:")
    )
    rel2 = release_id(sandbox.ok("apply", "--ref", "v2").out)
    moved = httpx.get(
        f"{hub}/internal/releases/current?project=shop&env=dev",
        headers={**BRIDGE, "If-None-Match": etag},
    )
    assert moved.status_code == 200
    assert moved.json()["releaseId"] == rel2
    assert moved.headers["etag"] != etag

    # connections: the decrypted URLs, never logged
    conns = httpx.get(f"{hub}/internal/connections?project=shop&env=prod", headers=BRIDGE)
    assert conns.status_code == 200
    assert {c["name"]: c["dbUrl"] for c in conns.json()} == {
        "main": urls["prod_main"],
        "analytics": urls["prod_analytics"],
    }
    assert conns.headers["cache-control"] == "no-store"
    password = urlsplit(sandbox.pg_admin_url).password
    assert password
    assert password not in sandbox.hub.log.read_text()

    # bad input: 400 naming the field, 404 for what does not exist, never a 500
    for path, status, word in (
        ("/internal/releases/current?env=dev", 400, "project"),
        ("/internal/releases/current?project=shop", 400, "env"),
        ("/internal/connections?project=shop", 400, "env"),
        ("/internal/releases/current?project=shop&env=nope", 404, "nope"),
        ("/internal/releases/current?project=nope&env=dev", 404, "nope"),
        ("/internal/releases/current?project=shop&env=prod", 404, "no release"),
        ("/internal/releases/rel_01NOPE", 404, "rel_01NOPE"),
        ("/internal/connections?project=shop&env=nope", 404, "nope"),
    ):
        answer = httpx.get(f"{hub}{path}", headers=BRIDGE)
        assert answer.status_code == status, (path, answer.text)
        assert word in answer.json()["error"]["message"], path

    # not in the operator API's OpenAPI document; counted under low-cardinality labels
    paths = httpx.get(f"{hub}/schema/openapi.json").json()["paths"]
    assert not any(p.startswith("/internal") for p in paths)
    assert "/v1/projects/{project}/envs/{env}/apikeys" in paths
    metrics = httpx.get(f"{hub}/metrics").text
    assert 'route="/internal/releases/{release_id}",status="200"' in metrics  # the template
    assert rel1 not in metrics


def test_without_configured_tokens_every_internal_call_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STK_")}
    env["STK_HUB_MASTER_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
    hub = HubProcess(tmp_path, env)
    hub.start()
    try:
        for headers in (
            {},
            {"Authorization": "Bearer"},
            {"Authorization": "Bearer anything"},
            {"Authorization": f"Bearer {BRIDGE_TOKENS[0]}"},
        ):
            for method, path in (
                ("GET", "/internal/releases/current?project=a&env=b"),
                ("GET", "/internal/releases/rel_x"),
                ("GET", "/internal/connections?project=a&env=b"),
                ("POST", "/internal/apikeys/verify"),
            ):
                answer = httpx.request(method, f"{hub.url}{path}", headers=headers, json={})
                assert answer.status_code == 401, (headers, path)
    finally:
        hub.stop()
    assert "STK_BRIDGE_TOKENS is not set" in hub.log.read_text()


def test_a_short_bridge_token_stops_the_hub_at_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STK_")}
    env |= {
        "STK_HUB_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "STK_BRIDGE_TOKENS": f"{BRIDGE_TOKENS[0]},guessable",
    }
    run = run_stk("hub", "serve", "--data-dir", str(tmp_path), env=env, inherit=False, timeout=30)
    assert run.returncode == 2
    assert "STK_BRIDGE_TOKENS: token 2 is shorter than 32 characters" in run.stderr
    assert "guessable" not in run.stderr


def test_apikey_help_has_examples() -> None:
    for command in ("create", "list", "revoke"):
        assert f"Example: stk apikey {command}" in run_stk("apikey", command, "--help").stdout


@pytest.mark.parametrize("sandbox", ["sqlite"], indirect=True)  # store-independent
def test_roles_no_rule_names_are_refused_once_the_env_has_a_release(sandbox: Sandbox) -> None:
    bootstrap(sandbox)
    # no release yet: nothing to check against, so accepted with a warning
    early = sandbox.ok("apikey", "create", "--name", "early", "--roles", "nosuchrole")
    created(early)
    assert "warning: env dev has no release yet" in early.err
    sandbox.ok("apply", "--ref", "v1")
    refused = sandbox.stk("apikey", "create", "--name", "x", "--roles", "service,nosuchrole")
    assert refused.code == 1, refused.out + refused.err
    assert refused.out == ""  # no key was minted
    assert "nosuchrole" in refused.err
    assert "admin, service, writer" in refused.err  # the roles the rules name
    assert "--allow-unknown-roles" in refused.err
    answer = httpx.post(
        f"{sandbox.hub.url}/v1/projects/shop/envs/dev/apikeys",
        json={"name": "x", "roles": ["service", "nosuchrole"]},
        headers=operator_token(sandbox),
    )
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "CONFLICT"
    assert error["details"] == [
        {"unknownRoles": ["nosuchrole"], "knownRoles": ["admin", "service", "writer"]}
    ]
    # a key minted before the rules that will name its role
    forced = sandbox.ok(
        "apikey", "create", "--name", "later", "--roles", "nosuchrole", "--allow-unknown-roles"
    )
    created(forced)
    assert "warning: no rule of env dev's current release names role(s) nosuchrole" in forced.err
    known = sandbox.ok("apikey", "create", "--name", "svc", "--roles", "service")
    created(known)
    assert "warning" not in known.err
    # prod has no release: its keys are not checked against dev's rules
    assert (
        "no release yet"
        in sandbox.ok(
            "apikey", "create", "--env", "prod", "--name", "p", "--roles", "nosuchrole"
        ).err
    )
    names = [k["name"] for k in json.loads(sandbox.ok("apikey", "list", "--json").out)]
    assert sorted(names) == ["early", "later", "svc"]
