"""Column values between their JSON forms and Python (core/values.py): every valid value of
every logical type survives the round trip, and any JSON at all either converts or is refused
with a UsageError that names the column and never the value."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from santokit.core import values
from santokit.core.errors import UsageError
from santokit.core.ir import Column, ItemType
from santokit.core.logical import INT32, INT64, LOGICAL_TYPES

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)

PYTHON: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(),
    "file": st.text(),
    "int": st.integers(*INT32),
    "bigint": st.integers(*INT64),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "decimal": st.decimals(allow_nan=False, allow_infinity=False, places=4),
    "boolean": st.booleans(),
    "json": json_values,
    "timestamp": st.datetimes(timezones=st.just(UTC)),
    "bytes": st.binary(),
}


def column(kind: str) -> Column:
    if kind == "array":
        return Column("c", "array", items=ItemType("int"))
    return Column("c", kind)


def test_every_logical_type_has_a_strategy() -> None:
    assert set(LOGICAL_TYPES) - {"array"} == set(PYTHON)


@pytest.mark.parametrize("kind", sorted(PYTHON))
@given(data=st.data())
def test_round_trip(kind: str, data: st.DataObject) -> None:
    value = data.draw(PYTHON[kind])
    col = column(kind)
    form = values.to_json(col, value)
    json.dumps(form, allow_nan=False)  # a JSON value indeed
    assert values.from_json(col, json.loads(json.dumps(form)), "t") == value


@given(st.lists(st.lists(st.integers(*INT32) | st.none(), max_size=3), max_size=3))
def test_nested_arrays_round_trip(value: list[list[int | None]]) -> None:
    col = Column("c", "array", items=ItemType("array", ItemType("int")))
    assert values.from_json(col, values.to_json(col, value), "t") == value


@pytest.mark.parametrize("kind", [*sorted(PYTHON), "array"])
@given(value=json_values)
def test_any_json_converts_or_is_refused_without_echo(kind: str, value: Any) -> None:
    message = ""
    try:
        values.from_json(column(kind), value, "posts")
    except UsageError as exc:
        message = exc.message
    if message:
        assert message.startswith("posts.c: expected ")
        if isinstance(value, str) and len(value) > 3:
            assert value not in message


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("int", True),
        ("int", 2**31),
        ("int", 1.5),
        ("bigint", "12a"),
        ("bigint", str(2**63)),
        ("float", "1.0"),
        ("decimal", 1.5),
        ("decimal", "NaN"),
        ("decimal", "1" * 2000),
        ("boolean", 1),
        ("timestamp", "2026-12-02T10:00:00"),  # no time zone
        ("timestamp", "yesterday"),
        ("bytes", "not base64!"),
        ("string", 5),
        ("array", "[1]"),
    ],
)
def test_wrong_values_are_refused(kind: str, value: Any) -> None:
    with pytest.raises(UsageError):
        values.from_json(column(kind), value, "t")


def test_forms_as_the_spec_gives_them() -> None:
    assert values.to_json(column("bigint"), 2**62) == str(2**62)
    assert values.from_json(column("bigint"), 7, "t") == 7
    assert values.to_json(column("decimal"), Decimal("12.50")) == "12.50"
    stamp = values.from_json(column("timestamp"), "2026-12-02T10:00:00+02:00", "t")
    assert stamp == datetime(2026, 12, 2, 8, tzinfo=UTC)
    assert values.to_json(column("timestamp"), stamp) == "2026-12-02T08:00:00Z"
    assert values.to_json(column("bytes"), b"\x00\xff") == "AP8="
    assert values.from_json(column("string"), None, "t") is None
