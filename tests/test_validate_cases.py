"""Table-driven: each wrong file gives exit 1 and one finding at the right file, line and path.

A line of a case file that ends in ``# <`` is where the finding must point (when ``line`` is not
given). Every rule of schema.md §2 has at least one case, plus the ways a file can fail to be YAML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from santokit.cli.app import main

OK_POSTS = """\
version: 1
tables:
  posts:
    connection: main
    columns:
      title: { type: string }
"""


@dataclass
class Case:
    name: str
    files: dict[str, str | bytes]
    path: str
    message: str
    file: str = "schema/a.yaml"
    line: int | None = None
    extra: dict[str, str | bytes] = field(default_factory=dict)


def table(columns: str, *, extra: str = "", id_: str = "") -> str:
    """A one-table file; ``columns`` is indented under ``columns:`` by the caller."""
    out = "version: 1\ntables:\n  users:\n    connection: main\n"
    if id_:
        out += f"    id: {id_}\n"
    out += "    columns:\n" + columns + extra
    return out


def many_tables(n: int, connection: str = "main") -> str:
    body = "".join(f"  t{i}:\n    connection: {connection}\n" for i in range(n))
    return "version: 1\ntables:\n" + body


CASES = [
    # --- not YAML, or not the right kind of document ------------------------------------------
    Case(
        "yaml-unclosed-flow",
        {"schema/a.yaml": "version: 1\ntables: { users: [\n"},
        "(root)",
        "YAML syntax error",
        line=3,
    ),
    Case(
        "yaml-bad-indent",
        {"schema/a.yaml": "version: 1\ntables:\n  users:\n    connection: main\n   x: 1  # <\n"},
        "(root)",
        "YAML syntax error",
    ),
    Case(
        "tab-indented",
        {"schema/a.yaml": "version: 1\ntables:\n  users:\n\tconnection: main  # <\n"},
        "(root)",
        "tab character is used for indentation",
    ),
    Case("empty-file", {"schema/a.yaml": ""}, "(root)", "file is empty", line=1),
    Case("comments-only", {"schema/a.yaml": "# nothing here\n"}, "(root)", "file is empty", line=1),
    Case(
        "list-document",
        {"schema/a.yaml": "- users\n- posts\n"},
        "(root)",
        "the document is a list; expected a mapping",
        line=1,
    ),
    Case(
        "scalar-document",
        {"schema/a.yaml": "just text\n"},
        "(root)",
        "the document is a single value; expected a mapping",
        line=1,
    ),
    Case(
        "not-utf8",
        {"schema/a.yaml": b"version: 1\ntables:\n  users:\n    connection: caf\xe9\n"},
        "(root)",
        "file is not valid UTF-8 (byte 0xe9)",
        line=4,
    ),
    Case(
        "two-documents",
        {"schema/a.yaml": OK_POSTS + "---\nversion: 1  # <\n"},
        "(root)",
        "more than one YAML document",
    ),
    Case(
        "duplicate-key",
        {
            "schema/a.yaml": "version: 1\ntables:\n  users:\n    connection: main\n  users:  # <\n    connection: main\n"
        },
        "tables.users",
        "duplicate key 'users' (first at line 3)",
    ),
    Case(
        "merge-key",
        {
            "schema/a.yaml": "version: 1\ntables:\n  users:\n    <<: {connection: main}  # <\n    connection: main\n"
        },
        "tables.users",
        "merge keys",
    ),
    Case(
        "unsupported-tag",
        {"schema/a.yaml": table("      pic: { type: bytes, default: !!binary aGk= }  # <\n")},
        "tables.users.columns.pic.default",
        "unsupported YAML tag",
    ),
    Case(
        "non-name-key",
        {"schema/a.yaml": table("      1: { type: string }  # <\n")},
        "tables.users.columns",
        "key '1' is not a name",
    ),
    # --- structure (the JSON Schema) ----------------------------------------------------------
    Case(
        "missing-version",
        {"schema/a.yaml": "tables:\n  users:\n    connection: main\n"},
        "(root)",
        "missing required key 'version'",
        line=1,
    ),
    Case(
        "wrong-version", {"schema/a.yaml": "version: 2  # <\ntables: {}\n"}, "version", "must be 1"
    ),
    Case(
        "unknown-top-key",
        {"schema/a.yaml": "version: 1\ntables: {}\ntabels: {}  # <\n"},
        "tabels",
        "unknown key 'tabels'; did you mean 'tables'?",
    ),
    Case(
        "unknown-table-key",
        {"schema/a.yaml": table("      a: { type: string }\n", extra="    indices: []  # <\n")},
        "tables.users.indices",
        "unknown key 'indices'; did you mean 'indexes'?",
    ),
    Case(
        "unknown-column-key",
        {"schema/a.yaml": table("      a: { type: string, nulable: true }  # <\n")},
        "tables.users.columns.a.nulable",
        "did you mean 'nullable'?",
    ),
    Case(
        "missing-connection",
        {"schema/a.yaml": "version: 1\ntables:\n  users:  # <\n    columns: {}\n"},
        "tables.users",
        "missing required key 'connection'",
    ),
    Case(
        "missing-column-type",
        {"schema/a.yaml": table("      a: { nullable: true }  # <\n")},
        "tables.users.columns.a",
        "missing required key 'type'",
    ),
    Case(
        "unknown-type",
        {"schema/a.yaml": table("      a: { type: strin }  # <\n")},
        "tables.users.columns.a.type",
        "must be one of string, int",
    ),
    Case(
        "nullable-not-bool",
        {"schema/a.yaml": table("      a: { type: string, nullable: yes }  # <\n")},
        "tables.users.columns.a.nullable",
        "must be true or false, not the string 'yes'",
    ),
    Case(
        "bad-action",
        {
            "schema/a.yaml": table(
                "      a: { type: string, references: { table: users, onDelete: wipe } }  # <\n"
            )
        },
        "tables.users.columns.a.references.onDelete",
        "must be one of restrict, no_action",
    ),
    # --- identifiers ---------------------------------------------------------------------------
    Case(
        "uppercase-table",
        {"schema/a.yaml": "version: 1\ntables:\n  Users:  # <\n    connection: main\n"},
        "tables.Users",
        "'Users' is not a valid name",
    ),
    Case(
        "reserved-column",
        {"schema/a.yaml": table("      select: { type: string }  # <\n")},
        "tables.users.columns.select",
        "reserved word in PostgreSQL",
    ),
    Case(
        "stk-prefix",
        {"schema/a.yaml": "version: 1\ntables:\n  stk_audit:  # <\n    connection: main\n"},
        "tables.stk_audit",
        "reserved for Santokit's own objects",
    ),
    Case(
        "too-long-name",
        {"schema/a.yaml": table(f"      {'c' * 64}: {{ type: string }}  # <\n")},
        f"tables.users.columns.{'c' * 64}",
        "is 64 bytes long; names are at most 63 bytes",
    ),
    Case(
        "bad-connection-name",
        {"schema/a.yaml": "version: 1\ntables:\n  users:\n    connection: Main-DB  # <\n"},
        "tables.users.connection",
        "'Main-DB' is not a valid name",
    ),
    Case(
        "bad-index-name",
        {
            "schema/a.yaml": table(
                "      a: { type: string }\n",
                extra="    indexes:\n      - { columns: [a], name: 'x y' }  # <\n",
            )
        },
        "tables.users.indexes[0].name",
        "'x y' is not a valid name",
    ),
    # --- merging files ---------------------------------------------------------------------------
    Case(
        "duplicate-table-across-files",
        {"schema/a.yaml": OK_POSTS, "schema/b.yaml": OK_POSTS.replace("posts:", "posts:  # <")},
        "tables.posts",
        "table 'posts' is already declared in schema/a.yaml (line 3)",
        file="schema/b.yaml",
    ),
    # --- id -------------------------------------------------------------------------------------
    Case(
        "ulid-id-not-string",
        {
            "schema/a.yaml": table(
                "      a: { type: string }\n", id_="{ generate: ulid, type: bigint }  # <"
            )
        },
        "tables.users.id.type",
        "an id generated as ulid",
    ),
    Case(
        "auto-increment-not-bigint",
        {
            "schema/a.yaml": table(
                "      a: { type: string }\n", id_="{ generate: auto_increment, type: string }  # <"
            )
        },
        "tables.users.id.type",
        "an auto_increment id is a bigint",
    ),
    Case(
        "client-id-int",
        {
            "schema/a.yaml": table(
                "      a: { type: string }\n", id_="{ generate: client, type: int }  # <"
            )
        },
        "tables.users.id.type",
        "a client-generated id is a string or a bigint",
    ),
    Case(
        "default-id-generate-bigint",
        {"schema/a.yaml": table("      a: { type: string }\n", id_="{ type: bigint }  # <")},
        "tables.users.id.type",
        "an id generated as ulid",
    ),
    Case(
        "id-redeclared",
        {"schema/a.yaml": table("      id: { type: string }  # <\n")},
        "tables.users.columns.id",
        "'id' is the table's id column",
    ),
    Case(
        "named-id-redeclared",
        {"schema/a.yaml": table("      uid: { type: string }  # <\n", id_="{ name: uid }")},
        "tables.users.columns.uid",
        "'uid' is the table's id column",
    ),
    # --- columns: items, bucket, onDelete --------------------------------------------------------
    Case(
        "array-without-items",
        {"schema/a.yaml": table("      tags: { type: array }  # <\n")},
        "tables.users.columns.tags",
        "an array column needs 'items'",
    ),
    Case(
        "items-on-string",
        {"schema/a.yaml": table("      a: { type: string, items: int }  # <\n")},
        "tables.users.columns.a",
        "'items' is only allowed on an array column",
    ),
    Case(
        "items-file",
        {"schema/a.yaml": table("      a: { type: array, items: file }  # <\n")},
        "tables.users.columns.a.items",
        "must be one of string, int",
    ),
    Case(
        "nested-items-not-array",
        {
            "schema/a.yaml": table(
                "      a: { type: array, items: { type: int, items: int } }  # <\n"
            )
        },
        "tables.users.columns.a.items.type",
        "its type must be 'array'",
    ),
    Case(
        "file-without-bucket",
        {"schema/a.yaml": table("      pic: { type: file }  # <\n")},
        "tables.users.columns.pic",
        "a file column needs 'bucket'",
    ),
    Case(
        "bucket-on-string",
        {"schema/a.yaml": table("      a: { type: string, bucket: media }  # <\n")},
        "tables.users.columns.a",
        "'bucket' is only allowed on a file column",
    ),
    Case(
        "ondelete-on-string",
        {"schema/a.yaml": table("      a: { type: string, onDelete: cascade }  # <\n")},
        "tables.users.columns.a",
        "'onDelete' is only allowed on a file column",
    ),
    # --- defaults -------------------------------------------------------------------------------
    Case(
        "now-on-int",
        {"schema/a.yaml": table("      a: { type: int, default: now }  # <\n")},
        "tables.users.columns.a.default",
        "default now is only for timestamp columns",
    ),
    Case(
        "now-on-array",
        {"schema/a.yaml": table("      a: { type: array, items: timestamp, default: now }  # <\n")},
        "tables.users.columns.a.default",
        "default now is only for timestamp columns",
    ),
    Case(
        "string-default-on-int",
        {"schema/a.yaml": table("      a: { type: int, default: '5' }  # <\n")},
        "tables.users.columns.a.default",
        "must be a whole number, not a string",
    ),
    Case(
        "int-out-of-range",
        {"schema/a.yaml": table("      a: { type: int, default: 2147483648 }  # <\n")},
        "tables.users.columns.a.default",
        "out of range for int",
    ),
    Case(
        "number-default-on-string",
        {"schema/a.yaml": table("      a: { type: string, default: 5 }  # <\n")},
        "tables.users.columns.a.default",
        "must be a string, not the number 5; quote it",
    ),
    Case(
        "bool-default-wrong",
        {"schema/a.yaml": table("      a: { type: boolean, default: 1 }  # <\n")},
        "tables.users.columns.a.default",
        "must be true or false",
    ),
    Case(
        "timestamp-no-tz",
        {
            "schema/a.yaml": table(
                "      a: { type: timestamp, default: 2024-01-01T10:00:00 }  # <\n"
            )
        },
        "tables.users.columns.a.default",
        "has no time zone",
    ),
    Case(
        "timestamp-garbage",
        {"schema/a.yaml": table("      a: { type: timestamp, default: yesterday }  # <\n")},
        "tables.users.columns.a.default",
        "neither now nor an ISO 8601 timestamp",
    ),
    Case(
        "decimal-garbage",
        {"schema/a.yaml": table("      a: { type: decimal, default: '1.2.3' }  # <\n")},
        "tables.users.columns.a.default",
        "is not a decimal number",
    ),
    Case(
        "array-default-items",
        {"schema/a.yaml": table("      a: { type: array, items: int, default: [1, x] }  # <\n")},
        "tables.users.columns.a.default",
        "must be a list of int values",
    ),
    Case(
        "bytes-default",
        {"schema/a.yaml": table("      a: { type: bytes, default: 'not base64!' }  # <\n")},
        "tables.users.columns.a.default",
        "must be a base64 string",
    ),
    # --- references -----------------------------------------------------------------------------
    Case(
        "reference-unknown-table",
        {"schema/a.yaml": table("      a: { type: string, references: { table: usres } }  # <\n")},
        "tables.users.columns.a.references.table",
        "references unknown table 'usres'; did you mean 'users'?",
    ),
    Case(
        "reference-other-connection",
        {
            "schema/a.yaml": table(
                "      e: { type: string, references: { table: events } }  # <\n"
            ),
            "schema/b.yaml": "version: 1\ntables:\n  events:\n    connection: analytics\n",
        },
        "tables.users.columns.e.references.table",
        "a reference must stay within one connection",
    ),
    Case(
        "reference-not-unique",
        {
            "schema/a.yaml": table(
                "      email: { type: string }\n      boss: { type: string, references: { table: users, column: email } }  # <\n"
            )
        },
        "tables.users.columns.boss.references.column",
        "neither the id nor a unique column",
    ),
    Case(
        "reference-unknown-column",
        {
            "schema/a.yaml": table(
                "      boss: { type: string, references: { table: users, column: mail } }  # <\n"
            )
        },
        "tables.users.columns.boss.references.column",
        "table 'users' has no column 'mail'",
    ),
    Case(
        "reference-type-mismatch",
        {
            "schema/a.yaml": table(
                "      boss: { type: bigint, references: { table: users } }  # <\n"
            )
        },
        "tables.users.columns.boss.type",
        "users.boss is bigint but references users.id, which is string",
    ),
    Case(
        "set-null-not-nullable",
        {
            "schema/a.yaml": table(
                "      boss: { type: string, nullable: false, references: { table: users, onDelete: set_null } }  # <\n"
            )
        },
        "tables.users.columns.boss.references.onDelete",
        "set_null needs a nullable column",
    ),
    Case(
        "set-default-without-default",
        {
            "schema/a.yaml": table(
                "      boss: { type: string, references: { table: users, onUpdate: set_default } }  # <\n"
            )
        },
        "tables.users.columns.boss.references.onUpdate",
        "set_default needs a default on boss",
    ),
    # --- indexes --------------------------------------------------------------------------------
    Case(
        "index-unknown-column",
        {
            "schema/a.yaml": table(
                "      a: { type: string }\n", extra="    indexes:\n      - columns: [a, b]  # <\n"
            )
        },
        "tables.users.indexes[0].columns[1]",
        "table 'users' has no column 'b'",
    ),
    Case(
        "index-same-columns-twice",
        {
            "schema/a.yaml": table(
                "      a: { type: string }\n",
                extra="    indexes:\n      - columns: [a, id]\n      - { columns: [a, id], unique: true }  # <\n",
            )
        },
        "tables.users.indexes[1].columns",
        "indexes[0] already indexes the same columns",
    ),
    Case(
        "index-column-repeated",
        {
            "schema/a.yaml": table(
                "      a: { type: string }\n", extra="    indexes:\n      - columns: [a, a]  # <\n"
            )
        },
        "tables.users.indexes[0].columns",
        "lists 'a' more than once",
    ),
    Case(
        "index-empty",
        {
            "schema/a.yaml": table(
                "      a: { type: string }\n", extra="    indexes:\n      - columns: []  # <\n"
            )
        },
        "tables.users.indexes[0].columns",
        "must not be empty",
    ),
    Case(
        "index-name-is-a-table",
        {
            "schema/a.yaml": table(
                "      a: { type: string }\n",
                extra="    indexes:\n      - { columns: [a], name: users }  # <\n",
            )
        },
        "tables.users.indexes[0]",
        "already the name of the table 'users'",
    ),
    Case(
        "derived-names-collide",
        {
            "schema/a.yaml": "version: 1\ntables:\n  a_b:\n    connection: main\n    columns:\n      c: { type: string, unique: true }\n  a:\n    connection: main\n    columns:\n      b_c: { type: string, unique: true }  # <\n"
        },
        "tables.a.columns.b_c.unique",
        "would be named 'a_b_c_key'",
    ),
    # --- limits ---------------------------------------------------------------------------------
    Case(
        "too-many-columns",
        {"schema/a.yaml": table("".join(f"      c{i}: {{ type: int }}\n" for i in range(200)))},
        "tables.users.columns",
        "has 201 columns (with its id); at most 200",
        line=5,
    ),
    Case(
        "too-many-tables",
        {"schema/a.yaml": many_tables(501)},
        "tables.t500.connection",
        "has 501 tables; at most 500",
        line=2 + 500 * 2 + 2,
    ),
    Case(
        "too-many-connections",
        {
            "schema/a.yaml": "version: 1\ntables:\n"
            + "".join(f"  t{i}:\n    connection: c{i:02d}\n" for i in range(11))
        },
        "tables.t10.connection",
        "uses 11 connections; at most 10",
        line=2 + 10 * 2 + 2,
    ),
    # --- permissions file (structure) ------------------------------------------------------------
    Case(
        "permissions-unknown-op",
        {
            "schema/a.yaml": OK_POSTS,
            "config/permissions.yaml": "version: 1\ntables:\n  posts:\n    upsert:  # <\n      - roles: [admin]\n",
        },
        "tables.posts.upsert",
        "unknown key 'upsert'",
        file="config/permissions.yaml",
    ),
    Case(
        "permissions-empty-roles",
        {
            "schema/a.yaml": OK_POSTS,
            "config/permissions.yaml": "version: 1\ntables:\n  posts:\n    select:\n      - roles: []  # <\n",
        },
        "tables.posts.select[0].roles",
        "must not be empty",
        file="config/permissions.yaml",
    ),
    Case(
        "permissions-missing-roles",
        {
            "schema/a.yaml": OK_POSTS,
            "config/permissions.yaml": "version: 1\ntables:\n  posts:\n    delete:  # <\n      condition: \"resource.id == 'x'\"\n",
        },
        "tables.posts.delete",
        "missing required key 'roles'",
        file="config/permissions.yaml",
    ),
]


def expected_line(case: Case) -> int:
    if case.line is not None:
        return case.line
    text = case.files[case.file]
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return next(i for i, ln in enumerate(text.splitlines(), 1) if ln.rstrip().endswith("# <"))


def test_at_least_thirty_distinct_cases() -> None:
    assert len({c.name for c in CASES}) == len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_wrong_file(case: Case, repo, capsys: pytest.CaptureFixture[str]) -> None:
    root = repo(case.files)
    assert main(["validate", "--dir", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    prefix = f"{case.file}:{expected_line(case)}:"
    hits = [ln for ln in out if ln.startswith(prefix) and f": {case.path}: " in ln]
    assert any(case.message in ln for ln in hits), (
        f"wanted {prefix} {case.path}: {case.message}\n got {out}"
    )
    assert len(out) == 1, f"expected exactly one finding, got {out}"


def test_three_mistakes_in_one_file_are_all_reported(repo, capsys) -> None:
    root = repo(
        {
            "schema/a.yaml": table(
                "      a: { type: strin }\n"
                "      b: { type: int, default: hello }\n"
                "      c: { type: string, references: { table: nowhere } }\n"
            )
        }
    )
    assert main(["validate", "--dir", str(root), "--json"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert [(f["line"], f["path"]) for f in findings] == [
        (6, "tables.users.columns.a.type"),
        (7, "tables.users.columns.b.default"),
        (8, "tables.users.columns.c.references.table"),
    ]
    assert all(f["file"] == "schema/a.yaml" for f in findings)


def test_mistakes_across_files_are_reported_together(repo, capsys) -> None:
    root = repo(
        {
            "schema/a.yaml": table("      a: { type: strin }\n"),
            "schema/b.yml": "version: 1\ntables:\n  Posts:\n    connection: main\n",
            "config/permissions.yaml": "version: 2\ntables: {}\n",
        }
    )
    assert main(["validate", "--dir", str(root)]) == 1
    files = [ln.split(":")[0] for ln in capsys.readouterr().out.splitlines()]
    assert files == ["config/permissions.yaml", "schema/a.yaml", "schema/b.yml"]
