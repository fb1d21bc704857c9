"""Properties of the IR: canonical JSON round trips; the digest ignores key order and file split."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from santokit.core.ir import Column, ConnectionSchema, Default, Schema, Table, canonical_json
from santokit.core.validation import Snapshot, validate_snapshot

from .strategies import files_for, schema_file, schemas

# Strings YAML 1.2 reads as another type when written plain; PyYAML (YAML 1.1) wrote 0E0 plain.
TRICKY = ("0E0", "1e5", "+.5", "0o17", "0x1F", "010", ".inf", "-.Inf", ".NaN", "null", "~", "")
TRICKY_DEFAULTS = Schema(
    (
        ConnectionSchema(
            "main",
            (
                Table(
                    "t",
                    columns=tuple(
                        Column(f"c{i}", "string", default=Default("literal", v))
                        for i, v in enumerate(TRICKY)
                    ),
                ),
            ),
        ),
    )
)

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(schemas())
def test_canonical_json_round_trip_is_identity(schema: Schema) -> None:
    text = schema.canonical_json()
    again = Schema.from_json(json.loads(text))
    assert again == schema
    assert again.canonical_json() == text
    assert again.digest() == schema.digest()


@SETTINGS
@given(schemas(), st.data())
def test_files_load_to_the_generated_schema_whatever_the_split(schema: Schema, data) -> None:
    first = data.draw(files_for(schema))
    second = data.draw(files_for(schema))
    r1 = validate_snapshot(Snapshot(first))
    r2 = validate_snapshot(Snapshot(second))
    assert r1.ok, [str(f) for f in r1.findings]
    assert r2.ok, [str(f) for f in r2.findings]
    assert r1.schema == schema
    assert r1.schema.digest() == r2.schema.digest() == schema.digest()


@SETTINGS
@given(schemas())
@example(TRICKY_DEFAULTS)
def test_the_file_form_reads_back_as_written(schema: Schema) -> None:
    """The renderer writes YAML as Santokit reads it (1.2): no string default turns into a
    float or a null on the way."""
    result = validate_snapshot(Snapshot(schema_file(schema)))
    assert result.ok, [str(f) for f in result.findings]
    assert result.schema == schema


def test_canonical_json_has_sorted_keys_and_no_whitespace() -> None:
    assert canonical_json({"b": [1, {"d": 1, "c": "é"}], "a": None}) == (
        '{"a":null,"b":[1,{"c":"é","d":1}]}'.encode()
    )


def test_digest_changes_with_content() -> None:
    from santokit.core.ir import Column, ConnectionSchema, Table

    a = Schema((ConnectionSchema("main", (Table("t", columns=(Column("a", "int"),)),)),))
    b = Schema((ConnectionSchema("main", (Table("t", columns=(Column("a", "bigint"),)),)),))
    assert a.digest() != b.digest()
    assert a.digest().startswith("sha256:")
    assert len(a.digest()) == 71
