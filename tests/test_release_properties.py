"""Random sequences of apply, promote, rollback and hand-made drift against a real Hub and real
databases: every env's pointer always names a release its database can serve, a refused move is
refused for a reason that holds, and a refusal never moves a pointer."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from santokit.core.compat import after_apply
from santokit.core.ir import ConnectionSchema
from santokit.core.validation import Snapshot, validate_snapshot
from santokit.plugins.postgres.engine import PostgresEngine

from .e2e import PASSWORD, HubProcess, hub_with_operator
from .pg import execute, with_database

USERS = "  users:\n    connection: main\n    columns:\n{columns}"
POSTS = "  posts:\n    connection: main\n    columns:\n      title: { type: string }\n"
# Each variant is a complete schema; the comments say which earlier releases it breaks.
SCHEMAS = [
    USERS.format(columns="      email: { type: string, nullable: false }\n"),
    # + a nullable column: every release still runs
    USERS.format(
        columns="      email: { type: string, nullable: false }\n      bio: { type: string }\n"
    ),
    # + a table and a unique email: releases without the unique cannot serve this database
    USERS.format(
        columns="      email: { type: string, nullable: false, unique: true }\n"
        "      bio: { type: string }\n"
    )
    + POSTS,
    # bio gains a default: releases with the old default cannot serve this database
    USERS.format(
        columns="      email: { type: string, nullable: false }\n"
        "      bio: { type: string, default: 'hi' }\n"
    ),
    # drops bio: always blocked once bio exists
    USERS.format(columns="      email: { type: string, nullable: false }\n") + POSTS,
    # additions only (from 0, 1 and each other): every earlier release still runs
    USERS.format(
        columns="      email: { type: string, nullable: false }\n      bio: { type: string }\n"
        "      nick: { type: string }\n"
    ),
    USERS.format(
        columns="      email: { type: string, nullable: false }\n      bio: { type: string }\n"
        "      nick: { type: string }\n"
    )
    + POSTS,
    # 6 with a default on bio: strands every release that declares bio
    USERS.format(
        columns="      email: { type: string, nullable: false }\n"
        "      bio: { type: string, default: 'hi' }\n      nick: { type: string }\n"
    )
    + POSTS,
]
PERMISSIONS = [
    "version: 1\ntables:\n  users:\n    select:\n      - roles: [service]\n",
    "version: 1\ntables:\n  users:\n    select:\n      - roles: [admin]\n",
]
# --only schema twice: it is the step that can strand a current release
ONLY = [None, ["schema"], ["schema"], ["permissions", "release"], ["schema", "release"]]
ENVS = ("dev", "prod")
REFUSALS = {"CHANGE_BLOCKED", "DRIFT_DETECTED", "RELEASE_INCOMPATIBLE", "CONFLICT", "NOT_FOUND"}


def declared(schema: int) -> ConnectionSchema:
    files = {"schema/main.yaml": ("version: 1\ntables:\n" + SCHEMAS[schema]).encode()}
    result = validate_snapshot(Snapshot(files, None))
    assert result.ok, result.findings
    main = result.schema.connection("main")
    assert main is not None
    return main


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = hub_with_operator(tmp_path_factory.mktemp("hub"))
    try:
        yield process
    finally:
        process.stop()


def snapshot(schema: int, perms: int = 0) -> dict[str, Any]:
    return {
        "schemaFiles": {"schema/main.yaml": "version: 1\ntables:\n" + SCHEMAS[schema]},
        "permissionsFile": PERMISSIONS[perms],
    }


def operator_api(hub: HubProcess) -> httpx.Client:
    """A client logged in as the test operator."""
    token = httpx.post(
        f"{hub.url}/v1/auth/login", json={"email": "ops@example.com", "password": PASSWORD}
    ).json()["token"]
    return httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def one_env_project(api: httpx.Client, pg_admin_url: str, env: str) -> tuple[str, str]:
    """A new project with ``env`` whose connection main is a new database: the env's API path
    and the database's URL."""
    project = f"p{secrets.token_hex(5)}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{project}"'.encode())
    url = with_database(pg_admin_url, project)
    assert api.post("/v1/projects", json={"name": project}).is_success
    assert api.post(f"/v1/projects/{project}/envs", json={"name": env}).is_success
    base = f"/v1/projects/{project}/envs/{env}"
    assert api.put(f"{base}/connections/main", json={"engine": "postgres", "dbUrl": url}).is_success
    return base, url


def test_schema_alone_is_applied_unless_it_strands_the_current_release(
    hub: HubProcess, pg_admin_url: str
) -> None:
    """The gate both ways, on fixed inputs: additions pass, a changed default is refused."""
    api = operator_api(hub)
    base, _ = one_env_project(api, pg_admin_url, "dev")
    first = api.post(f"{base}/apply", json={"ref": "a", "snapshot": snapshot(1)}).json()
    for additive in (5, 6):
        r = api.post(
            f"{base}/apply", json={"ref": "b", "only": ["schema"], "snapshot": snapshot(additive)}
        )
        assert r.status_code == 200, r.text
    r = api.post(f"{base}/apply", json={"ref": "c", "only": ["schema"], "snapshot": snapshot(7)})
    assert r.status_code == 409
    assert "without a release" in r.json()["error"]["message"]
    assert api.get(f"{base}/releases/current").json()["releaseId"] == first["releaseId"]


def test_schema_and_release_with_no_release_to_carry_changes_nothing(
    hub: HubProcess, pg_admin_url: str
) -> None:
    """``--only schema,release`` on an env with no release is refused before any DDL runs
    (found by the state machine below: the refusal used to come after the schema step)."""
    api = operator_api(hub)
    base, url = one_env_project(api, pg_admin_url, "prod")
    for dry in (True, False):
        r = api.post(
            f"{base}/apply",
            json={
                "ref": "a",
                "dryRun": dry,
                "only": ["schema", "release"],
                "snapshot": snapshot(0),
            },
        )
        assert r.status_code == 409, r.text
        assert "has no release yet" in r.json()["error"]["message"]
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'public'"
        ).fetchall()
    assert tables == []
    assert api.get(f"{base}/releases/current").status_code == 404
    # the step the message names makes the release
    r = api.post(
        f"{base}/apply",
        json={"ref": "a", "only": ["schema", "permissions", "release"], "snapshot": snapshot(0)},
    )
    assert r.status_code == 200, r.text
    assert r.json()["releaseId"]


def test_pointers_always_name_a_servable_release(hub: HubProcess, pg_admin_url: str) -> None:
    api = operator_api(hub)
    engine = PostgresEngine()

    class Releases(RuleBasedStateMachine):
        releases = Bundle("releases")

        def __init__(self) -> None:
            super().__init__()
            self.project = f"p{secrets.token_hex(5)}"
            self.urls: dict[str, str] = {}
            self.pointer: dict[str, str | None] = dict.fromkeys(ENVS)
            self.history: dict[str, set[str]] = {e: set() for e in ENVS}
            self.schema_of: dict[str, int] = {}  # releaseId -> schema variant
            self.has_users: dict[str, bool] = dict.fromkeys(ENVS, False)
            self.hand_columns: dict[str, list[str]] = {e: [] for e in ENVS}
            assert api.post("/v1/projects", json={"name": self.project}).status_code == 201
            for env in ENVS:
                name = f"{self.project}_{env}"
                with psycopg.connect(pg_admin_url, autocommit=True) as conn:
                    conn.execute(f'create database "{name}"'.encode())
                self.urls[env] = with_database(pg_admin_url, name)
                assert api.post(f"/v1/projects/{self.project}/envs", json={"name": env}).is_success
                assert api.put(
                    f"/v1/projects/{self.project}/envs/{env}/connections/main",
                    json={"engine": "postgres", "dbUrl": self.urls[env]},
                ).is_success

        def teardown(self) -> None:
            with psycopg.connect(pg_admin_url, autocommit=True) as conn:
                for env in ENVS:
                    conn.execute(
                        f'drop database if exists "{self.project}_{env}" with (force)'.encode()
                    )

        # -- helpers ----------------------------------------------------------------------------
        def refused(self, response: httpx.Response) -> str:
            assert response.status_code in (404, 409), response.text
            error = response.json()["error"]
            assert error["code"] in REFUSALS, error
            if error["code"] == "CONFLICT":
                # pending changes, or --only schema,release before the env has permissions to keep
                assert (
                    "pending changes" in error["message"]
                    or "has no release yet" in error["message"]
                ), error
            return str(error["code"])

        def servable(self, env: str, release_id: str) -> list[str]:
            if not self.has_users[env]:
                return ["no users table"]
            return engine.compatibility(self.urls[env], declared(self.schema_of[release_id]))

        def moved(self, env: str, release_id: str) -> None:
            self.pointer[env] = release_id
            self.history[env].add(release_id)

        # -- rules ------------------------------------------------------------------------------
        @rule(
            target=releases,
            env=st.sampled_from(ENVS),
            schema=st.integers(0, len(SCHEMAS) - 1),
            perms=st.integers(0, len(PERMISSIONS) - 1),
            only=st.sampled_from(ONLY),
        )
        def apply(self, env: str, schema: int, perms: int, only: list[str] | None) -> Any:
            body = {
                "ref": f"s{schema}p{perms}",
                "only": only,
                "snapshot": {
                    "schemaFiles": {"schema/main.yaml": "version: 1\ntables:\n" + SCHEMAS[schema]},
                    "permissionsFile": PERMISSIONS[perms],
                },
            }
            r = api.post(f"/v1/projects/{self.project}/envs/{env}/apply", json=body)
            current = self.pointer[env]
            strands = bool(
                only is not None
                and "release" not in only
                and "schema" in only
                and current is not None
                and after_apply(declared(self.schema_of[current]), declared(schema))
            )
            if not r.is_success:
                code = self.refused(r)
                stranded = code == "CHANGE_BLOCKED" and "without a release" in r.text
                # refused for stranding exactly when it would strand (blocked changes aside)
                assert stranded == strands or (code == "CHANGE_BLOCKED" and not stranded), r.text
                return None
            assert not strands, "a schema that strands the current release was applied"
            result = r.json()
            if only is None or "schema" in only:
                self.has_users[env] = True
            if result["releaseId"] is None:
                return None
            self.schema_of[result["releaseId"]] = schema
            self.moved(env, result["releaseId"])
            return result["releaseId"]

        @rule(target=releases, source=st.sampled_from(ENVS), to=st.sampled_from(ENVS))
        def promote_current(self, source: str, to: str) -> Any:
            r = api.post(
                f"/v1/projects/{self.project}/releases/promote", json={"from": source, "to": to}
            )
            wanted = self.pointer[source]
            if r.is_success:
                assert wanted is not None
                assert r.json()["releaseId"] == wanted
                self.moved(to, wanted)
                return wanted
            code = self.refused(r)
            if wanted is not None:
                assert code == "RELEASE_INCOMPATIBLE"
                assert self.hand_columns[to] or self.servable(to, wanted)
            return None

        @rule(release=releases, to=st.sampled_from(ENVS), how=st.sampled_from(["id", "rollback"]))
        def move(self, release: str | None, to: str, how: str) -> None:
            if release is None:
                return
            if how == "id":
                r = api.post(
                    f"/v1/projects/{self.project}/releases/promote",
                    json={"to": to, "releaseId": release},
                )
            else:
                r = api.post(
                    f"/v1/projects/{self.project}/envs/{to}/releases/rollback", json={"to": release}
                )
            if r.is_success:
                assert how == "id" or release in self.history[to]
                self.moved(to, release)
                return
            code = self.refused(r)
            if code == "NOT_FOUND":
                assert how == "rollback"
                assert release not in self.history[to]
            else:
                assert code == "RELEASE_INCOMPATIBLE"
                assert self.hand_columns[to] or self.servable(to, release)

        @precondition(lambda self: any(self.has_users.values()))
        @rule(env=st.sampled_from(ENVS))
        def add_column_by_hand(self, env: str) -> None:
            if not self.has_users[env]:
                return
            name = f"hand_{len(self.hand_columns[env])}"
            execute(self.urls[env], f"alter table users add column {name} text")
            self.hand_columns[env].append(name)

        @rule(env=st.sampled_from(ENVS))
        def restore_by_hand(self, env: str) -> None:
            for name in self.hand_columns[env]:
                execute(self.urls[env], f"alter table users drop column {name}")
            self.hand_columns[env] = []

        # -- the promise ------------------------------------------------------------------------
        @invariant()
        def pointers_name_servable_releases(self) -> None:
            for env in ENVS:
                r = api.get(f"/v1/projects/{self.project}/envs/{env}/releases/current")
                if self.pointer[env] is None:
                    assert r.status_code == 404, r.text
                    continue
                assert r.json()["releaseId"] == self.pointer[env]
                assert self.servable(env, self.pointer[env]) == []

    run_state_machine_as_test(
        Releases,
        settings=settings(
            max_examples=int(os.environ.get("STK_RELEASE_EXAMPLES", "20")),
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
