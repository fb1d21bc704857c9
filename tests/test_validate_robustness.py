"""Hostile and unusual input: a clear finding, never a crash, never a second report of one mistake."""

from __future__ import annotations

import json
import time

import pytest

from santokit.cli.app import main
from santokit.core.validation import Snapshot, validate_snapshot


def one_table(columns: str, extra: str = "") -> bytes:
    return (
        "version: 1\ntables:\n  t:\n    connection: main\n    columns:\n" + columns + extra
    ).encode()


def findings(files: dict[str, bytes], perms: bytes | None = None) -> list[str]:
    result = validate_snapshot(Snapshot(files, perms))
    return [str(f) for f in result.findings]


def test_alias_bomb_is_refused_quickly() -> None:
    levels = ["        - &l0 [a, a, a, a, a, a, a, a, a, a]\n"] + [
        f"        - &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 8)
    ]
    text = one_table("      a:\n        type: json\n        default:\n" + "".join(levels))
    start = time.perf_counter()
    out = findings({"schema/a.yaml": text})
    assert time.perf_counter() - start < 5
    assert out == [
        "schema/a.yaml:1:1: (root): the document expands to too many values "
        "(aliases repeated too often)"
    ]


def test_deep_nesting_is_a_finding() -> None:
    text = one_table("      a: { type: json, default: " + "[" * 500 + "]" * 500 + " }\n")
    out = findings({"schema/a.yaml": text})
    assert len(out) == 1
    assert "nested more than 64 levels deep" in out[0]


@pytest.mark.parametrize("bad", ["{unique: true}", "id", "{columns: nope}"])
def test_a_broken_index_beside_a_valid_one(bad: str) -> None:
    text = one_table(
        "      a: { type: string }\n", f"    indexes:\n      - columns: [a]\n      - {bad}\n"
    )
    out = findings({"schema/a.yaml": text})
    assert len(out) == 1
    assert "tables.t.indexes[1]" in out[0]


@pytest.mark.parametrize(
    ("default", "message"),
    [
        ('"0001-01-01T00:00:00+01:00"', "out of range for a timestamp"),
        ("1" + "0" * 400, "out of range"),
    ],
)
def test_values_at_the_edge_of_range(default: str, message: str) -> None:
    kind = "timestamp" if "T" in default else "float"
    out = findings(
        {"schema/a.yaml": one_table(f"      a: {{ type: {kind}, default: {default} }}\n")}
    )
    assert len(out) == 1
    assert message in out[0]


def test_yaml_1_2_numbers() -> None:
    text = one_table(
        "      a: { type: int, default: 010 }\n"
        "      b: { type: int, default: 0o17 }\n"
        "      c: { type: float, default: 1e5 }\n"
        "      d: { type: decimal, default: 1234567890.123456789 }\n"
        "      e: { type: decimal, default: -0.00 }\n"
        "      f: { type: string, default: 1:30 }\n"
        "      g: { type: bigint, default: 9223372036854775807 }\n"
    )
    result = validate_snapshot(Snapshot({"schema/a.yaml": text}))
    assert result.ok, [str(f) for f in result.findings]
    table = result.schema.connections[0].tables[0]
    defaults = {c.name: c.default.value for c in table.columns}
    assert defaults == {
        "a": 10,
        "b": 15,
        "c": 100000.0,
        "d": "1234567890.123456789",
        "e": "0.00",
        "f": "1:30",
        "g": "9223372036854775807",
    }


def test_one_mistake_is_reported_once() -> None:
    text = (
        b"version: 1\ntables:\n"
        b"  users:\n    connection: main\n    id: { generate: autoincrement }\n"
        b"  posts:\n    connection: main\n    columns:\n"
        b"      user_id: { type: bigint, references: { table: users } }\n"
        b"      x: { type: string, default: 5, references: { table: posts, column: y, onDelete: set_default } }\n"
        b"      y: { type: string, unique: true }\n"
        b"      z: { items: string }\n"
        b"      w: { type: strng, items: int }\n"
    )
    out = findings({"schema/a.yaml": text})
    assert [ln.split(": ")[1] for ln in out] == [
        "tables.users.id.generate",
        "tables.posts.columns.x.default",
        "tables.posts.columns.z",
        "tables.posts.columns.w.type",
    ]


def test_invalid_connection_does_not_hide_the_rest_of_the_table() -> None:
    text = one_table("      a: { type: int, default: x }\n").replace(b"main", b"Main")
    out = findings({"schema/a.yaml": text})
    assert [ln.split(": ")[1] for ln in out] == [
        "tables.t.connection",
        "tables.t.columns.a.default",
    ]


def test_names_with_a_trailing_newline_are_refused() -> None:
    text = b'version: 1\ntables:\n  "users\\n":\n    connection: main\n'
    out = findings({"schema/a.yaml": text})
    assert out == [
        "schema/a.yaml:3:3: tables[\"users\\n\"]: 'users\\n' is not a valid name: use lowercase "
        "letters, digits and '_', starting with a letter or '_'"
    ]


def test_two_indexes_with_one_name_in_one_table() -> None:
    text = one_table(
        "      a: { type: string }\n      b: { type: string }\n      a_b: { type: string }\n",
        "    indexes:\n      - columns: [a, b]\n      - columns: [a_b]\n",
    )
    out = findings({"schema/a.yaml": text})
    assert len(out) == 1
    assert "would be named 't_a_b_idx'" in out[0]


def test_star_mixed_with_columns_is_refused(repo, capsys) -> None:
    root = repo(
        {
            "schema/a.yaml": one_table("      title: { type: string }\n"),
            "config/permissions.yaml": "version: 1\ntables:\n  t:\n    select:\n      - roles: [a]\n        columns: ['*', title]\n",
        }
    )
    assert main(["validate", "--dir", str(root), "--json"]) == 1
    found = json.loads(capsys.readouterr().out)["findings"]
    assert [(f["path"], f["message"]) for f in found] == [
        ("tables.t.select[0].columns", 'must be a list of column names, or ["*"] alone')
    ]


@pytest.mark.parametrize(
    ("default", "where"),
    [
        ("'1e400000000'", "400000001 digits before the point"),  # 90 bytes, 400 MB written out
        ("1e400000000", "400000001 digits before the point"),  # a YAML float: the text is kept
        ("'1e-16384'", "16384 after"),
        ("'0e-99999'", "99999 after"),  # zero, but still written out with that many places
        ("'1e99999999999999999999999'", "out of range for a decimal"),  # beyond Decimal's own
        ("'" + "9" * 131_073 + "'", "131073 digits before the point"),
    ],
)
def test_a_decimal_default_beyond_postgres_numeric_is_a_finding(default: str, where: str) -> None:
    """A default Postgres numeric cannot hold is a finding at its line, found without writing
    the number out, and the finding quotes only the start of the value."""
    text = one_table("      a: { type: string }\n      price:\n        type: decimal\n") + (
        f"        default: {default}\n".encode()
    )
    start = time.perf_counter()
    out = findings({"schema/a.yaml": text})
    assert time.perf_counter() - start < 1
    assert len(out) == 1
    assert out[0].startswith("schema/a.yaml:9:18: tables.t.columns.price.default: default '")
    assert where in out[0]
    assert len(out[0]) < 300


@pytest.mark.parametrize("default", ["'9" + "9" * 131_071 + "'", "'0." + "1" * 16_383 + "'"])
def test_a_decimal_default_at_the_numeric_limit_is_kept(default: str) -> None:
    text = one_table(f"      price: {{ type: decimal, default: {default} }}\n")
    assert findings({"schema/a.yaml": text}) == []
