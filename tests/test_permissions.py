"""config/permissions.yaml against the schema it ships with: what is refused (with file, line,
table, op and rule), what is accepted, and the compiled policy of permissions.md §4."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from santokit.core.conditions import Unsupported, parse_condition
from santokit.core.ir import digest
from santokit.core.validation import Snapshot, ValidationResult, validate_snapshot
from santokit.plugins.permissions import PolicyCompiler

from .conftest import EXAMPLE, run_stk

SCHEMA = b"""version: 1
tables:
  posts:
    connection: main
    columns:
      user_id: { type: string, nullable: false }
      a:       { type: string }
      b:       { type: string }
      name:    { type: string }
      score:   { type: int }
      views:   { type: bigint }
      ratio:   { type: float }
      price:   { type: decimal }
      done:    { type: boolean }
      at:      { type: timestamp }
      meta:    { type: json }
  events:
    connection: analytics
    id: { generate: auto_increment }
    columns:
      kind: { type: string }
"""
SUPPORTED = "supported forms: resource.<col> == request.auth.sub, resource.<col> == <literal>"


def check(permissions: str, schema: bytes = SCHEMA) -> ValidationResult:
    return validate_snapshot(Snapshot({"schema/main.yaml": schema}, permissions.encode()))


def one_rule(condition: str | None = None, columns: str | None = None, op: str = "select") -> str:
    lines = ["version: 1", "tables:", "  events:", "    select: { roles: [service] }", "  posts:"]
    lines += [f"    {op}:", "      - roles: [admin]", "      - roles: [writer]"]
    if condition is not None:
        lines.append(f"        condition: {json.dumps(condition)}")
    if columns is not None:
        lines.append(f"        columns: {columns}")
    return "\n".join(lines) + "\n"


def shown(condition: str) -> str:
    """A condition as findings quote it: long ones are cut."""
    return condition if len(condition) <= 80 else condition[:77] + "..."


def errors(result: ValidationResult) -> list[str]:
    return [str(f) for f in result.errors]


REFUSED = {
    "resource.score > 10": "unsupported operator '>'",
    "resource.a != 'x'": "unsupported operator '!='",
    "resource.name.startsWith('a')": "function calls (startsWith) are not supported",
    "resource.id in ['a']": "unsupported operator 'in'",
    "resource.a == 'x' && resource.b == 'y'": "'&&' is not supported",
    "resource.a == 'x' || resource.b == 'y'": "'||' is not supported",
    "'admin' in request.auth.roles": "unsupported operator 'in'",
    "resource.a == request.auth.roles": "request.auth.roles is not supported",
    "resource.a ==": "not valid CEL: syntax error at column",
    "resource.a == 'x": "not valid CEL: syntax error at column",
    "resource.a == resource.b": "comparing two columns is not supported",
    "resource.meta.x == 1": "only a column of resource may be compared",
    "user.a == 'x'": "unknown name 'user.a'",
    "resource.a == null": "null literals are not supported",
    "resource.a == '\\q'": "the string holds an escape CEL does not define",
    "resource.a == '\\uD800'": "an escape that is not a Unicode character",
    "resource.a == 'x' == true": "'==' chained",
    "resource" + ".a" * 500 + " == 1": "only a column of resource may be compared",
    "!resource.done": "unary operators",
    "resource.score == 1 + 2": "unsupported operator '+'",
}


@pytest.mark.parametrize(("condition", "why"), sorted(REFUSED.items()))
def test_unsupported_conditions_name_table_op_rule_and_the_supported_forms(
    condition: str, why: str
) -> None:
    result = check(one_rule(condition))
    [finding] = result.errors
    assert finding.file == "config/permissions.yaml"
    assert finding.line == 9
    assert str(finding).startswith(
        "config/permissions.yaml:9:20: tables.posts.select[1].condition: posts.select rule #2: "
    )
    assert repr(shown(condition)) in finding.message
    assert why in finding.message
    assert finding.message.endswith(SUPPORTED)


NOT_FITTING = {
    "resource.nope == 'x'": "unknown column 'nope' (the table has a, at, b, done",
    "resource.score == 'x'": "a string literal does not fit column 'score' (int); write an "
    "integer literal (42)",
    "resource.a == 1": "an int literal does not fit column 'a' (string); write a string literal",
    "resource.ratio == " + "9" * 400: "99999999999999999999999999999999999... is out of range for "
    "column 'ratio' (float)",
    "resource.a == '\\x00'": "a string with a NUL character cannot be stored",
    "resource.done == 'true'": "does not fit column 'done' (boolean); write true or false",
    "resource.ratio == true": "a bool literal does not fit column 'ratio' (float)",
    "resource.at == '2024-01-01'": "timestamp columns take no literal condition",
    "resource.meta == 'x'": "json columns take no literal condition",
    "resource.score == 3000000000": "3000000000 is out of range for column 'score' (int)",
    "resource.score == request.auth.sub": "request.auth.sub is a string; column 'score' is int",
}


@pytest.mark.parametrize(("condition", "why"), sorted(NOT_FITTING.items()))
def test_conditions_must_fit_the_columns(condition: str, why: str) -> None:
    [finding] = check(one_rule(condition)).errors
    assert finding.path == ("tables", "posts", "select", 1, "condition")
    assert finding.message.startswith(f"posts.select rule #2: {shown(condition)!r}: ")
    assert why in finding.message


def test_every_mistake_is_reported_at_once_with_its_place() -> None:
    result = check(
        "version: 1\n"
        "tables:\n"
        "  post:\n"  # 3
        "    select: { roles: [admin] }\n"
        "  posts:\n"
        "    select:\n"
        "      roles: [admin]\n"  # 7: the shorthand is rule #1
        "      columns: [a, titel]\n"
        "    update:\n"  # 9
        "      - roles: []\n"
        "      - roles: [w]\n"
        "        condition: resource.score > 1\n"  # 12
        "    upsert:\n"
        "      - roles: [w]\n"
    )
    assert errors(result) == [
        "config/permissions.yaml:3:3: tables.post: unknown table 'post': no schema/*.yaml "
        "declares it; did you mean 'posts'?",
        "config/permissions.yaml:8:20: tables.posts.select.columns[1]: posts.select rule #1: "
        "unknown column 'titel' of table posts",
        "config/permissions.yaml:10:9: tables.posts.update[0].roles: must not be empty",
        "config/permissions.yaml:12:20: tables.posts.update[1].condition: posts.update rule #2: "
        f"'resource.score > 1': unsupported operator '>'; {SUPPORTED}",
        "config/permissions.yaml:13:5: tables.posts.upsert: unknown key 'upsert'; did you mean "
        "'insert'?",
    ]


def test_a_table_without_rules_is_a_warning_not_an_error() -> None:
    result = check("version: 1\ntables:\n  posts:\n    select: { roles: [admin] }\n")
    assert result.ok
    assert [str(f) for f in result.findings] == [
        "config/permissions.yaml:2:1: tables: warning: table events (connection analytics) has "
        "no rule: it is not reachable through the Bridge"
    ]


ACCEPTED = {
    "resource.user_id == request.auth.sub": {"authSub": True},
    "request.auth.sub == resource.user_id": {"authSub": True},
    "resource.a == 'draft'": {"literal": "draft"},
    '"draft" == resource.a': {"literal": "draft"},
    "resource.score == -3": {"literal": -3},
    "3 == resource.score": {"literal": 3},
    "resource.views == 9007199254740993": {"literal": 9007199254740993},
    "resource.ratio == 2": {"literal": 2.0},
    "resource.ratio == 0.5": {"literal": 0.5},
    "resource.price == 12.5": {"literal": "12.5"},
    "resource.price == 1234567890.123456789": {"literal": "1234567890.123456789"},
    "resource.price == 1e3": {"literal": "1000"},
    "resource.price == 7": {"literal": "7"},
    "resource.a == 'tab\\there \\u00e9 \\x41'": {"literal": "tab\there é A"},
    "resource.a == r'raw\\q'": {"literal": "raw\\q"},
    "resource.done == true": {"literal": True},
    "false == resource.done": {"literal": False},
    "(resource.a == 'x')": {"literal": "x"},
    "resource.id == request.auth.sub": {"authSub": True},
}


@pytest.mark.parametrize(("condition", "value"), sorted(ACCEPTED.items()))
def test_the_two_forms_in_both_orders_and_every_scalar_type(
    condition: str, value: dict[str, object]
) -> None:
    result = check(one_rule(condition))
    assert result.ok, errors(result)
    compiled = PolicyCompiler().compile(result.policy, result.schema)
    rule = compiled["tables"]["posts"]["ops"]["select"][1]
    assert rule["condition"]["op"] == "eq"
    assert rule["condition"]["value"] == value


def test_compiled_policy_expands_columns_sorts_roles_and_records_connections() -> None:
    result = check(
        "version: 1\n"
        "tables:\n"
        "  events:\n"
        "    insert: { roles: [service, ingest], columns: [kind] }\n"
        "  posts:\n"
        "    select:\n"
        "      - roles: [admin]\n"
        "      - roles: [authenticated]\n"
        "        condition: resource.user_id == request.auth.sub\n"
        "        columns: [name, id, a]\n"
        "    delete: { roles: [admin], columns: ['*'] }\n"
    )
    assert result.ok, errors(result)
    compiled = PolicyCompiler().compile(result.policy, result.schema)
    every = sorted(
        [
            "id",
            "user_id",
            "a",
            "b",
            "name",
            "score",
            "views",
            "ratio",
            "price",
            "done",
            "at",
            "meta",
        ]
    )
    assert compiled == {
        "version": 1,
        "tables": {
            "events": {
                "connection": "analytics",
                "ops": {
                    "insert": [
                        {"roles": ["ingest", "service"], "columns": ["kind"], "condition": None}
                    ]
                },
            },
            "posts": {
                "connection": "main",
                "ops": {
                    "select": [
                        {"roles": ["admin"], "columns": every, "condition": None},
                        {
                            "roles": ["authenticated"],
                            "columns": ["a", "id", "name"],
                            "condition": {
                                "column": "user_id",
                                "op": "eq",
                                "value": {"authSub": True},
                            },
                        },
                    ],
                    "delete": [{"roles": ["admin"], "columns": every, "condition": None}],
                },
            },
        },
    }


def test_the_policy_digest_ignores_how_the_file_is_written() -> None:
    a = check(
        "version: 1\ntables:\n  posts:\n    select: { roles: [b, a], condition: 'resource.a == \"x\"' }\n"
        "  events:\n    select: [{ roles: [s] }]\n"
    )
    b = check(
        "version: 1\ntables:\n  events:\n    select: { roles: [s] }\n  posts:\n    select:\n"
        "      - condition: \"'x' == resource.a\"\n        roles: [a, b]\n"
    )
    assert a.ok
    assert b.ok
    assert digest(PolicyCompiler().compile(a.policy, a.schema)) == digest(
        PolicyCompiler().compile(b.policy, b.schema)
    )


# -- for all inputs --------------------------------------------------------------------------------
LITERALS = {
    "string": st.text(st.characters(exclude_characters="\x00"), max_size=20).map(
        lambda s: (json.dumps(s, ensure_ascii=False), s)
    ),
    "integer": st.integers(-(2**63), 2**63 - 1).map(lambda i: (str(i), i)),
    "float": st.floats(allow_nan=False, allow_infinity=False).map(lambda f: (repr(f), f)),
    "bool": st.booleans().map(lambda b: ("true" if b else "false", b)),
}
COLUMN_TYPES = ["string", "int", "bigint", "float", "decimal", "boolean", "json", "timestamp"]


def expected(kind: str, text: str, value: object, column_type: str) -> object:
    """The compiled literal when it fits the column, else None (the rule of permissions.md §2)."""
    fits = {
        ("string", "string"): value,
        ("bool", "boolean"): value,
        ("float", "float"): value,
    }
    if kind == "float":
        fits[("float", "decimal")] = format(Decimal(text), "f")  # every digit, no binary float
    if kind == "integer":
        assert isinstance(value, int)
        fits |= {
            ("integer", "float"): float(value),
            ("integer", "decimal"): text,
            ("integer", "bigint"): value,
        }
        if -(2**31) <= value < 2**31:
            fits[("integer", "int")] = value
    return fits.get((kind, column_type))


@given(
    kind=st.sampled_from(sorted(LITERALS)),
    data=st.data(),
    column_type=st.sampled_from(COLUMN_TYPES),
    swapped=st.booleans(),
)
def test_a_literal_is_accepted_exactly_when_it_fits(
    kind: str, data: st.DataObject, column_type: str, swapped: bool
) -> None:
    text, value = data.draw(LITERALS[kind])
    condition = f"{text} == resource.c" if swapped else f"resource.c == {text}"
    want = expected(kind, text, value, column_type)
    try:
        compiled = parse_condition(condition, {"c": column_type}).to_json()
    except Unsupported as exc:
        refusal = str(exc)
    else:
        refusal = ""
    if want is None:
        assert "'c'" in refusal, (condition, column_type, refusal)
    else:
        assert not refusal, (condition, column_type, refusal)
        assert compiled["value"] == {"literal": want}


CONDITION_TEXT = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda col, lit, swap: f"{lit} == resource.{col}" if swap else f"resource.{col} == {lit}",
        st.sampled_from(["a", "n", "f", "d", "b", "x"]),
        st.one_of(
            st.text(max_size=12).map(lambda t: "'" + t.replace("'", "") + "'"),
            st.text(alphabet="0123456789.eE+-xXabcdefu\\'\"", min_size=1, max_size=30),
        ),
        st.booleans(),
    ),
)
TYPES = {"a": "string", "n": "int", "f": "float", "d": "decimal", "b": "bigint"}


@given(CONDITION_TEXT)
def test_no_condition_crashes_and_every_accepted_one_compiles_to_canonical_json(
    text: str,
) -> None:
    try:
        condition = parse_condition(text, TYPES)
    except Unsupported as exc:
        refusal = str(exc)
    else:
        refusal = ""
    if refusal:
        assert refusal.strip() == refusal
        return
    assert condition.column in TYPES
    compiled = condition.to_json()
    assert digest(compiled).startswith("sha256:")  # canonical JSON: UTF-8, finite numbers
    assert json.loads(json.dumps(compiled)) == compiled


def test_stk_validate_checks_permissions_offline(repo) -> None:
    root = repo({"schema/main.yaml": SCHEMA, "config/permissions.yaml": one_rule("resource.x > 1")})
    result = run_stk("validate", "--dir", str(root))
    assert result.returncode == 1
    assert result.stdout.startswith(
        "config/permissions.yaml:9:20: tables.posts.select[1].condition: posts.select rule #2: "
        "'resource.x > 1': unsupported operator '>'"
    )
    example = run_stk("validate", "--dir", str(EXAMPLE), "--json")
    assert example.returncode == 0, example.stdout


def test_a_long_condition_is_refused_by_its_length() -> None:
    [finding] = check(one_rule("resource.a == '" + "x" * 1100 + "'")).errors
    assert finding.path == ("tables", "posts", "select", 1, "condition")
    assert finding.message == "must be a CEL expression of 1 to 1024 characters"
    with pytest.raises(Unsupported, match="at most 1024 characters"):
        parse_condition("resource.a == '" + "x" * 1100 + "'", {"a": "string"})
