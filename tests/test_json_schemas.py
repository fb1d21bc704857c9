"""The published JSON Schemas work on their own, as a CI pipeline without Santokit uses them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from santokit.core.identifiers import POSTGRES_RESERVED

from .conftest import EXAMPLE
from .strategies import files_for, schemas

SPECS = Path(__file__).parent.parent / "specs"


def plain_validator(name: str) -> Draft202012Validator:
    """Only json + jsonschema, straight from the file: no Santokit code involved."""
    return Draft202012Validator(json.loads((SPECS / name).read_text()))


SCHEMA_FILE = plain_validator("schema-file.schema.json")
PERMISSIONS = plain_validator("permissions-file.schema.json")
CONTEXT = plain_validator("context.schema.json")


@pytest.mark.parametrize("name", sorted(p.name for p in SPECS.glob("*.schema.json")))
def test_is_valid_draft_2020_12(name: str) -> None:
    schema = json.loads((SPECS / name).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_example_file_is_accepted() -> None:
    for path in [*EXAMPLE.glob("schema/*.y*ml")]:
        assert not list(SCHEMA_FILE.iter_errors(yaml.safe_load(path.read_text()))), path
    perms = yaml.safe_load((EXAMPLE / "config/permissions.yaml").read_text())
    assert not list(PERMISSIONS.iter_errors(perms))


@settings(max_examples=40, deadline=None)
@given(schemas(), st.data())
def test_generated_valid_files_are_accepted(schema, data) -> None:
    for text in data.draw(files_for(schema)).values():
        errors = list(SCHEMA_FILE.iter_errors(yaml.safe_load(text)))
        assert not errors, [e.message for e in errors]


def col(spec: dict) -> dict:
    return {"version": 1, "tables": {"users": {"connection": "main", "columns": {"a": spec}}}}


WRONG_SCHEMA_FILES = {
    "no-version": {"tables": {}},
    "version-2": {"version": 2, "tables": {}},
    "no-tables": {"version": 1},
    "unknown-top-key": {"version": 1, "tables": {}, "extra": 1},
    "table-not-mapping": {"version": 1, "tables": {"users": []}},
    "no-connection": {"version": 1, "tables": {"users": {}}},
    "uppercase-table": {"version": 1, "tables": {"Users": {"connection": "main"}}},
    "reserved-table": {"version": 1, "tables": {"order": {"connection": "main"}}},
    "stk-table": {"version": 1, "tables": {"stk_x": {"connection": "main"}}},
    "long-table": {"version": 1, "tables": {"t" * 64: {"connection": "main"}}},
    "unknown-type": col({"type": "text"}),
    "no-type": col({"nullable": True}),
    "unknown-column-key": col({"type": "string", "size": 3}),
    "array-no-items": col({"type": "array"}),
    "items-on-int": col({"type": "int", "items": "int"}),
    "file-items": col({"type": "array", "items": "file"}),
    "file-no-bucket": col({"type": "file"}),
    "bucket-on-string": col({"type": "string", "bucket": "b"}),
    "bad-action": col({"type": "string", "references": {"table": "users", "onDelete": "x"}}),
    "ulid-bigint": {
        "version": 1,
        "tables": {"users": {"connection": "main", "id": {"type": "bigint"}}},
    },
    "auto-increment-string": {
        "version": 1,
        "tables": {
            "users": {"connection": "main", "id": {"generate": "auto_increment", "type": "string"}}
        },
    },
    "empty-index": {
        "version": 1,
        "tables": {"users": {"connection": "main", "indexes": [{"columns": []}]}},
    },
}


@pytest.mark.parametrize("name", sorted(WRONG_SCHEMA_FILES))
def test_structurally_wrong_schema_files_are_rejected(name: str) -> None:
    assert list(SCHEMA_FILE.iter_errors(WRONG_SCHEMA_FILES[name]))


@pytest.mark.parametrize(
    "doc",
    [
        {"version": 1, "tables": {"posts": {"upsert": {"roles": ["a"]}}}},
        {"version": 1, "tables": {"posts": {"select": {"roles": []}}}},
        {"version": 1, "tables": {"posts": {"select": [{"condition": "x"}]}}},
        {"version": 1, "tables": {"posts": {"select": {"roles": ["a"], "columns": "*"}}}},
        {"version": 1, "tables": {"posts": {"select": {"roles": ["a"], "who": 1}}}},
    ],
)
def test_structurally_wrong_permissions_are_rejected(doc: dict) -> None:
    assert list(PERMISSIONS.iter_errors(doc))


def test_context_schema() -> None:
    good = {
        "hubUrl": "http://127.0.0.1:8420",
        "project": "shop",
        "env": "dev",
        "connection": "main",
    }
    assert not list(CONTEXT.iter_errors(good))
    assert not list(CONTEXT.iter_errors({}))
    for bad in (
        {"hubUrl": "ftp://x"},
        {"project": "Shop"},
        {"connection": "select"},
        {"token": "secret"},
    ):
        assert list(CONTEXT.iter_errors(bad)), bad


def test_reserved_words_match_the_validator() -> None:
    ident = json.loads((SPECS / "schema-file.schema.json").read_text())["$defs"]["identifier"]
    listed = re.search(r"\(\?!\(\?:([a-z_|]+)\)", ident["pattern"])
    assert listed is not None
    assert set(listed.group(1).split("|")) == POSTGRES_RESERVED
    for word in POSTGRES_RESERVED:
        assert not re.search(ident["pattern"], word)
        assert re.search(ident["pattern"], word + "s")
