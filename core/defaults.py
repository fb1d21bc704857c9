"""Column defaults: from a YAML literal to a typed IR ``Default`` (schema.md §2, "Defaults").

Each rule answers one question a reviewer would ask of ``default:``: is this value of the column's
type, and what single canonical form does it take, so that ``12.50`` declared and ``12.50`` read
back from the database compare equal.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .ir import Default, ItemType

INT_RANGE = (-(2**31), 2**31 - 1)
BIGINT_RANGE = (-(2**63), 2**63 - 1)
_DECIMAL_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


class DefaultError(ValueError):
    """The default does not fit the column; the message says why in one sentence."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _what(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if _is_int(value) or isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, dict) else type(value).__name__


def _integer(value: Any, bounds: tuple[int, int], type_name: str) -> int:
    if isinstance(value, str) and type_name == "bigint" and re.fullmatch(r"[+-]?\d+", value):
        value = int(value)
    if not _is_int(value):
        raise DefaultError(
            f"default of a {type_name} column must be a whole number, not {_what(value)}"
        )
    if not bounds[0] <= value <= bounds[1]:
        raise DefaultError(f"default {value} is out of range for {type_name}")
    return value


def _timestamp(value: Any) -> Default:
    if value == "now":
        return Default.now()
    if not isinstance(value, str):
        raise DefaultError(
            f"default of a timestamp column must be now or an ISO 8601 string, not {_what(value)}"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DefaultError(f"default {value!r} is neither now nor an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise DefaultError(f"default {value!r} has no time zone; add one, e.g. {value}Z")
    text = parsed.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return Default("literal", text)


def _item_ok(item: ItemType, value: Any) -> bool:
    match item.type:
        case "array":
            assert item.items is not None
            return isinstance(value, list) and all(_item_ok(item.items, v) for v in value)
        case "int" | "bigint":
            return _is_int(value)
        case "float":
            return _is_int(value) or isinstance(value, float)
        case "decimal":
            return (
                _is_int(value)
                or isinstance(value, float)
                or (isinstance(value, str) and bool(_DECIMAL_RE.match(value)))
            )
        case "boolean":
            return isinstance(value, bool)
        case "json":
            return True
        case _:
            return isinstance(value, str)


def normalize_default(type_name: str, items: ItemType | None, value: Any) -> Default | None:
    """The IR default for ``value`` on a column of ``type_name``; None for no default."""
    if value is None:
        return None
    if value == "now" and type_name not in ("timestamp", "string", "file", "json"):
        raise DefaultError("default now is only for timestamp columns")
    match type_name:
        case "timestamp":
            return _timestamp(value)
        case "string" | "file":
            if not isinstance(value, str):
                raise DefaultError(
                    f"default of a {type_name} column must be a string, not "
                    f"{_what(value)}; quote it"
                )
            return Default("literal", value)
        case "int":
            return Default("literal", _integer(value, INT_RANGE, "int"))
        case "bigint":
            return Default("literal", _integer(value, BIGINT_RANGE, "bigint"))
        case "float":
            if not (_is_int(value) or isinstance(value, float)):
                raise DefaultError(
                    f"default of a float column must be a number, not {_what(value)}"
                )
            if not math.isfinite(value):
                raise DefaultError("default of a float column must be a finite number")
            return Default("literal", float(value))
        case "decimal":
            text = str(value) if (_is_int(value) or isinstance(value, float)) else value
            if isinstance(text, str) and not _DECIMAL_RE.match(text):
                raise DefaultError(f"default {text!r} is not a decimal number like '12.50'")
            if not isinstance(text, str):
                raise DefaultError(
                    f"default of a decimal column must be a number or a numeric "
                    f"string like '12.50', not {_what(value)}"
                )
            try:
                return Default("literal", str(Decimal(text)))
            except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
                raise DefaultError(f"default {value!r} is not a decimal number") from None
        case "boolean":
            if not isinstance(value, bool):
                raise DefaultError(
                    f"default of a boolean column must be true or false, not {_what(value)}"
                )
            return Default("literal", value)
        case "bytes":
            try:
                if not isinstance(value, str):
                    raise TypeError
                decoded = base64.b64decode(value, validate=True)
            except (TypeError, binascii.Error):
                raise DefaultError("default of a bytes column must be a base64 string") from None
            return Default("literal", base64.b64encode(decoded).decode("ascii"))
        case "array":
            assert items is not None
            if not _item_ok(ItemType("array", items), value):
                raise DefaultError(
                    f"default of an array column must be a list of {_item_name(items)}"
                )
            return Default.json_value(value)
        case "json":
            if isinstance(value, float) and not math.isfinite(value):
                raise DefaultError(
                    "default of a json column must be valid JSON (no NaN or infinity)"
                )
            return Default.json_value(value)
    raise DefaultError(f"unknown type {type_name!r}")  # pragma: no cover


def _item_name(item: ItemType) -> str:
    return f"lists of {_item_name(item.items)}" if item.items else f"{item.type} values"
