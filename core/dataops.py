"""The Bridge's data operations (bridge.md §3) as values: what ``/call`` asks of a database.

A request body is checked against the release and the caller's permissions once
(``core.callplan``) and becomes one of ``Select``, ``Insert``, ``Update`` or ``Delete``; an engine
(``contracts.DataPool``) renders it in its own SQL and runs it. Every name here comes from the
release's IR, never from the request as typed, and every value is already the Python value of
its column's logical type (``core.values``): an engine quotes the one and binds the other.

Python values by logical type: string and file ``str``; int and bigint ``int``; float
``float``; decimal ``decimal.Decimal``; boolean ``bool``; json any JSON value (``dict``, ``list``,
``str``, ``int``, ``float``, ``bool`` or ``None``); timestamp an aware ``datetime``; bytes
``bytes``; array a ``list`` of its item type's values. ``None`` is SQL NULL everywhere.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .ir import Table

CompareOp = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "like", "ilike", "isNull"]
COMPARE_OPS: tuple[str, ...] = typing.get_args(CompareOp)


@dataclass(frozen=True)
class Compare:
    """``column <op> value``. ``in`` holds a tuple of values, ``isNull`` a bool (True: IS NULL),
    ``like``/``ilike`` a pattern string; ``eq``/``ne`` with None never occur (``isNull`` does)."""

    column: str
    op: CompareOp
    value: Any


@dataclass(frozen=True)
class AllOf:
    """Every part holds (SQL AND); an empty AllOf is true."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    """At least one part holds (SQL OR); an empty AnyOf is false."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Negate:
    part: Condition


Condition = Compare | AllOf | AnyOf | Negate


@dataclass(frozen=True)
class Order:
    column: str
    descending: bool = False


@dataclass(frozen=True)
class Expand:
    """The row that ``column`` references, nested under ``alias`` (the ``references.as`` name),
    read under the target table's own select rule: only ``columns`` of it, and only when
    ``where`` (the target rule's condition) holds for it; otherwise the nested value is None."""

    alias: str
    column: str
    target: Table
    ref_column: str
    columns: tuple[str, ...]
    where: Condition | None = None


@dataclass(frozen=True)
class Select:
    table: Table
    columns: tuple[str, ...]  # what each row holds, in this order (the id column included if asked)
    where: Condition | None = None
    order: tuple[Order, ...] = ()
    limit: int = 100
    offset: int = 0
    expand: tuple[Expand, ...] = ()
    count: bool = False  # also the number of rows ``where`` matches, ignoring limit and offset


@dataclass(frozen=True)
class Insert:
    table: Table
    rows: tuple[Mapping[str, Any], ...]  # every row names the same columns, ids included
    returning: tuple[str, ...]


@dataclass(frozen=True)
class Update:
    table: Table
    where: Condition  # never empty: callplan refuses an update without one
    values: Mapping[str, Any]
    returning: tuple[str, ...] | None = None  # None: only the count


@dataclass(frozen=True)
class Delete:
    table: Table
    where: Condition  # never empty


DataOp = Select | Insert | Update | Delete


@dataclass(frozen=True)
class DataResult:
    """What an engine returns: rows of Python values keyed by column (an expanded relation is a
    nested dict, or None), the count when asked, and the rows affected by an update or delete."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    count: int | None = None
    affected: int | None = None
