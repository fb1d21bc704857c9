"""Column values between their JSON form (schema.md §2) and Python (core/dataops.py).

The Bridge reads every value of a ``/call`` through ``from_json`` and writes every value of a
row through ``to_json``. A wrong value is a ``UsageError`` naming the table, the column and the
form expected, never the value itself (it may be a secret or a row of someone else's).

Decisions: a bigint is accepted as a JSON integer too (within 64 bits) and always written as a
string; a float must be finite; a boolean is never an integer and an integer never a boolean; a
timestamp needs a time zone (``Z`` or an offset) and is written in UTC with ``Z``; bytes are
standard base64 with padding.
"""

from __future__ import annotations

import base64
import binascii
import math
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import UsageError
from .ir import Column, ItemType
from .logical import INT32, INT64

MAX_DECIMAL_CHARS = 1000  # Postgres numeric holds up to 131072 digits; a request need not


def _wrong(table: str, column: str, expected: str) -> UsageError:
    return UsageError(f"{table}.{column}: expected {expected}")


def _scalar_from_json(kind: str, value: Any, table: str, column: str) -> Any:
    if kind in ("string", "file"):
        if isinstance(value, str):
            return value
        raise _wrong(table, column, "a string")
    if kind in ("int", "bigint"):
        bounds = INT32 if kind == "int" else INT64
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif (
            kind == "bigint"
            and isinstance(value, str)
            and len(value) <= 20
            and value.lstrip("-").isdigit()
        ):
            number = int(value)
        if number is None or not bounds[0] <= number <= bounds[1]:
            form = "an integer" if kind == "int" else "an integer as a string ('42')"
            raise _wrong(table, column, f"{form} within {kind} range")
        return number
    if kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise _wrong(table, column, "a finite number")
    if kind == "decimal":
        if isinstance(value, str) and len(value) <= MAX_DECIMAL_CHARS:
            try:
                parsed = Decimal(value)
            except InvalidOperation:
                parsed = None
            if parsed is not None and parsed.is_finite():
                return parsed
        raise _wrong(table, column, "a decimal number as a string ('12.50')")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise _wrong(table, column, "true or false")
    if kind == "timestamp":
        if isinstance(value, str) and len(value) <= 64:
            try:
                stamp = datetime.fromisoformat(value.replace("Z", "+00:00", 1))
            except ValueError:
                stamp = None
            if stamp is not None and stamp.tzinfo is not None:
                return stamp.astimezone(UTC)
        raise _wrong(table, column, "an ISO 8601 timestamp with a time zone")
    if kind == "bytes":
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                pass
        raise _wrong(table, column, "base64 text")
    if kind == "json":
        return value
    raise _wrong(table, column, f"a value of type {kind}")  # pragma: no cover - registry types


def from_json(column: Column, value: Any, table: str) -> Any:
    """The Python value of ``value`` for ``column`` (None stays None: NULL)."""
    if value is None:
        return None
    if column.type == "array":
        return _array_from_json(column.items, value, table, column.name)
    return _scalar_from_json(column.type, value, table, column.name)


def _array_from_json(items: ItemType | None, value: Any, table: str, column: str) -> list[Any]:
    if not isinstance(value, list) or items is None:
        raise _wrong(table, column, "a JSON array")
    if items.type == "array":
        return [_array_from_json(items.items, v, table, column) for v in value]
    return [None if v is None else _scalar_from_json(items.type, v, table, column) for v in value]


def _scalar_to_json(kind: str, value: Any) -> Any:
    if kind == "bigint" or kind == "decimal":
        return str(value)
    if kind == "timestamp":
        stamp = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.isoformat().replace("+00:00", "Z")
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind == "float":
        return float(value)
    return value


def to_json(column: Column, value: Any) -> Any:
    """The JSON form of a Python value of ``column`` (None: null)."""
    if value is None:
        return None
    if column.type == "array":
        return _array_to_json(column.items, value)
    return _scalar_to_json(column.type, value)


def _array_to_json(items: ItemType | None, value: Any) -> list[Any]:
    assert items is not None
    if items.type == "array":
        return [_array_to_json(items.items, v) for v in value]
    return [None if v is None else _scalar_to_json(items.type, v) for v in value]
