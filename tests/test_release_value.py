"""The Release value: its digest is the one releases always had, it round-trips through every
form it is stored or served in, and malformed content is refused with a one-line error."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from santokit.core.errors import MalformedRelease
from santokit.core.ir import Schema, digest
from santokit.core.release import Release
from santokit.core.validation import Snapshot, validate_snapshot
from santokit.plugins.permissions import PolicyCompiler

from .strategies import json_values, schemas, text

SCHEMA_YAML = b"""version: 1
tables:
  users:
    connection: main
    columns:
      email: { type: string, nullable: false, unique: true }
      score: { type: decimal, default: '1.50' }
      tags: { type: array, items: string }
  events:
    connection: analytics
    id: { generate: auto_increment }
    columns:
      at: { type: timestamp, default: now }
      payload: { type: json, default: { a: [1, 2] } }
"""
PERMISSIONS_YAML = b"""version: 1
tables:
  users:
    select:
      - roles: [service]
      - roles: [authenticated]
        columns: [email]
        condition: 'resource.score == 2.5'
  events:
    select:
      - roles: [service]
"""
# Pinned: computed by the Hub's apply before Release existed, as
# digest({"schema": schema.to_json(), "permissions": compiled}); a change here changes the id
# every existing release would be reused under.
PINNED = "sha256:4e907fbcbbaefb3a3bfa38b90aad1e2fa26b6520e7cf8078c5920032d137892d"


def fixed() -> tuple[Schema, dict[str, Any]]:
    result = validate_snapshot(
        Snapshot({"schema/main.yaml": SCHEMA_YAML}, PERMISSIONS_YAML), [PolicyCompiler()]
    )
    assert result.ok, result.findings
    return result.schema, {"policy": PolicyCompiler().compile(result.policy, result.schema)}


def test_digest_and_snapshot_are_those_of_the_dicts_the_hub_built_before() -> None:
    schema, compiled = fixed()
    release = Release.build(schema, compiled, "v1")
    content = {"schema": schema.to_json(), "permissions": compiled}
    assert release.digest == digest(content)
    assert release.digest == PINNED
    assert release.to_snapshot() == json.dumps({**content, "ref": "v1"}, sort_keys=True)
    assert release.permissions_digest == digest(compiled)


def test_round_trip_through_the_stored_and_the_served_forms() -> None:
    schema, compiled = fixed()
    release = Release.build(schema, compiled, "v1")
    stored = Release.from_json(release.to_snapshot())
    served = {**release.to_json(), "releaseId": "rel_x", "digest": release.digest, "ref": "v1"}
    for back in (stored, Release.parse(served), Release.from_json(json.dumps(served).encode())):
        assert back == release
        assert back.digest == release.digest
        assert back.ref == "v1"
        assert back.schema == schema
    assert stored.policy is not None
    assert sorted(stored.artifacts) == ["policy"]


def test_the_ref_is_not_content() -> None:
    schema, compiled = fixed()
    assert (
        Release.build(schema, compiled, "a").digest == Release.build(schema, compiled, "b").digest
    )
    assert Release.build(schema, compiled, "a") == Release.build(schema, compiled, "b")
    assert Release.build(schema, None, "a").digest != Release.build(schema, compiled, "a").digest


def test_content_cannot_change_after_the_digest_is_taken() -> None:
    schema, compiled = fixed()
    given_dict = copy.deepcopy(compiled)
    release = Release.build(schema, given_dict, "v1")
    before = release.digest
    given_dict["policy"]["tables"].clear()  # the caller's dict, not the release's
    assert Release.parse(json.loads(release.to_snapshot())).digest == before
    with pytest.raises(TypeError):
        release.permissions["policy"]["tables"]["users"] = {}  # type: ignore[index]


def test_a_release_made_before_permissions_were_compiled() -> None:
    """Its permissions are the raw document: digested as stored, but no artifacts, no policy."""
    raw = {"version": 1, "tables": {"users": {"select": [{"roles": ["service"]}]}}}
    schema, _ = fixed()
    release = Release.from_json(json.dumps({"schema": schema.to_json(), "permissions": raw}))
    assert release.artifacts == {}
    assert release.policy is None
    assert release.permissions_digest == digest(raw)
    assert (
        Release.from_json(json.dumps({"schema": schema.to_json(), "permissions": None})).policy
        is None
    )


def _bad(mutate: Any) -> str:
    schema, compiled = fixed()
    data = Release.build(schema, compiled, "v1").to_json()
    mutate(data)
    return json.dumps(data)


def _set(path: list[Any], value: Any) -> Any:
    def mutate(data: Any) -> None:
        for key in path[:-1]:
            data = data[key]
        if value is KeyError:
            del data[path[-1]]
        else:
            data[path[-1]] = value

    return mutate


USERS = ["schema", "connections", "main", "tables", "users"]
MALFORMED = [
    ("not json", "{", "not JSON"),
    ("not an object", "[1]", "not a JSON object"),
    ("no schema", _bad(_set(["schema"], KeyError)), "at schema: not an object"),
    ("connections a list", _bad(_set(["schema", "connections"], [])), "at schema.connections:"),
    (
        "tables missing",
        _bad(_set(["schema", "connections", "main", "tables"], KeyError)),
        "at schema.connections.main.tables: not an object",
    ),
    (
        "a column without nullable",
        _bad(_set([*USERS, "columns", "email", "nullable"], KeyError)),
        "at schema.connections.main.tables.users: missing 'nullable'",
    ),
    (
        "columns a list",
        _bad(_set([*USERS, "columns"], [1])),
        "at schema.connections.main.tables.users: wrong shape",
    ),
    (
        "unknown type",
        _bad(_set([*USERS, "columns", "email", "type"], "money")),
        "users.columns.email: unknown logical type 'money'",
    ),
    (
        "unknown item type",
        _bad(_set([*USERS, "columns", "tags", "items", "type"], "money")),
        "users.columns.tags: unknown logical type 'money'",
    ),
    (
        "a name with a newline stays on one line",
        json.dumps({"schema": {"connections": {"a\nb": {}}}}),
        'schema.connections["a\\nb"].tables: not an object',
    ),
    ("permissions a list", _bad(_set(["permissions"], [])), "at permissions: not an object"),
    ("ref a number", _bad(_set(["ref"], 3)), "at ref: not a string"),
    ("wrong digest", _bad(_set(["digest"], "sha256:00")), "does not match its digest 'sha256:00'"),
    (
        "nested too deep",
        '{"schema": {"connections": {}}, "permissions": {"a": '
        + "[" * 100000
        + "]" * 100000
        + "}}",
        "nested too deeply",
    ),
]


@pytest.mark.parametrize(
    ("text_", "message"), [(t, m) for _, t, m in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_content_is_refused_with_a_one_line_error(text_: str, message: str) -> None:
    with pytest.raises(MalformedRelease) as err:
        Release.from_json(text_)
    assert message in err.value.message
    assert "\n" not in err.value.message
    assert err.value.code == "INTERNAL_ERROR"


artifacts = st.none() | st.dictionaries(text, json_values, max_size=3).map(
    lambda d: {"policy": {"version": 1, "tables": {}}, **d}
)


@settings(max_examples=60, deadline=None)
@given(schema=schemas(), permissions=artifacts, ref=text)
def test_every_release_round_trips_with_its_digest(
    schema: Schema, permissions: Any, ref: str
) -> None:
    release = Release.build(schema, permissions, ref)
    assert release.digest == digest({"schema": schema.to_json(), "permissions": permissions})
    back = Release.from_json(release.to_snapshot())
    assert back == release
    assert back.digest == release.digest
    assert back.ref == ref
    served = json.dumps({**release.to_json(), "digest": release.digest, "createdAt": "x"})
    assert Release.from_json(served).canonical_json() == release.canonical_json()


@settings(max_examples=200, deadline=None)
@given(
    data=json_values
    | st.dictionaries(st.sampled_from(["schema", "permissions", "ref", "digest"]), json_values)
)
def test_any_json_parses_or_is_malformed_never_a_crash(data: Any) -> None:
    message = ""
    try:
        Release.parse(data)
    except MalformedRelease as exc:
        message = exc.message
    assert "\n" not in message
