"""The logical column types (schema.md §2): one registry that every layer reads.

A type's name, whether it may be an array's element, what its ``default:`` literal looks like,
and what a permission condition may compare it with live here once. The published JSON Schemas
(specs/*.schema.json) repeat the names for tools without Santokit, and each engine maps every
name to its storage (the Postgres plugin's ``PG_TYPES``); tests/test_logical_types.py checks
that all of them agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

# How a default literal is checked and kept in the IR (core/defaults.py), and how an engine
# writes and reads it back: several types share one form (string and file are both text).
DefaultForm = Literal["text", "int", "float", "decimal", "boolean", "timestamp", "bytes", "json"]
# The CEL literal a condition ``resource.<col> == <literal>`` takes on the type (core/conditions)
ConditionForm = Literal["string", "bool", "int", "float", "decimal"]

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class LogicalType:
    """One logical type and what the schema language admits for it."""

    name: str
    default: DefaultForm
    item: bool = True  # may be named as an array's element type (an array nests as a mapping)
    items: bool = False  # needs ``items:`` (an array column)
    file: bool = False  # carries ``bucket``/``onDelete`` (storage metadata of the data plane)
    default_now: bool = False  # ``default: now`` means the current time
    int_range: tuple[int, int] | None = None  # the bounds of an integer type
    default_as_string: bool = False  # the IR keeps an integer default as a string (JSON-safe)
    condition: ConditionForm | None = None  # None: no literal condition on this type
    condition_hint: str | None = None  # what to write instead, in a refusal
    owner: bool = False  # may hold ``request.auth.sub`` (an owner rule's column)

    def condition_literal_cel(self, value: Any) -> str:
        """A compiled condition literal written as CEL again: a decimal is kept as text in
        the policy (every digit) and written as the number it is."""
        if self.condition == "decimal":
            return str(value)
        return json.dumps(value, ensure_ascii=False)


_TYPES = (
    LogicalType(
        "string",
        "text",
        condition="string",
        condition_hint="a string literal ('draft')",
        owner=True,
    ),
    LogicalType(
        "int",
        "int",
        int_range=INT32,
        condition="int",
        condition_hint="an integer literal (42)",
    ),
    LogicalType(
        "bigint",
        "int",
        int_range=INT64,
        default_as_string=True,
        condition="int",
        condition_hint="an integer literal (42)",
    ),
    LogicalType("float", "float", condition="float", condition_hint="a number literal (1.5)"),
    LogicalType("decimal", "decimal", condition="decimal", condition_hint="a number literal (1.5)"),
    LogicalType("boolean", "boolean", condition="bool", condition_hint="true or false"),
    LogicalType("json", "json"),
    LogicalType("timestamp", "timestamp", default_now=True),
    LogicalType("bytes", "bytes"),
    LogicalType("file", "text", item=False, file=True),
    LogicalType("array", "json", item=False, items=True),
)

LOGICAL: Mapping[str, LogicalType] = MappingProxyType({t.name: t for t in _TYPES})
# In registry order: where one storage type holds several logical types (text: string, file),
# the first is what an undeclared column of that storage reads back as.
LOGICAL_TYPES: tuple[str, ...] = tuple(LOGICAL)
SCALAR_ITEM_TYPES: tuple[str, ...] = tuple(t.name for t in _TYPES if t.item)
