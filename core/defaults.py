"""Column defaults: from a YAML literal to a typed IR ``Default`` (schema.md §2, "Defaults").

Each rule answers one question a reviewer would ask of ``default:``: is this value of the column's
type, and what single canonical form does it take, so that ``12.50`` declared and ``12.50`` read
back from the database compare equal. Values Postgres cannot store (NUL characters, NaN in JSON)
are refused here rather than at apply time.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeGuard

from .ir import Default, ItemType, canonical_json
from .logical import LOGICAL

_DECIMAL_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE]([+-]?\d+))?")
# What Postgres ``numeric`` holds: 131,072 digits before the point, 16,383 after.
NUMERIC_BEFORE = 131_072
NUMERIC_AFTER = 16_383
ECHO_CHARS = 40  # the longest value a finding quotes whole


class DefaultError(ValueError):
    """The default does not fit the column; the message says why in one sentence."""


def clip(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` as a finding may quote it: whole when short, else its start and how much more."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _what(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if _is_int(value) or isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "a mapping" if isinstance(value, dict) else type(value).__name__


def _article(type_name: str) -> str:
    return f"an {type_name}" if type_name[0] in "aeiou" else f"a {type_name}"


def _integer(value: Any, type_name: str) -> int:
    logical = LOGICAL[type_name]
    bounds = logical.int_range
    assert bounds is not None
    if isinstance(value, str) and logical.default_as_string and re.fullmatch(r"[+-]?\d+", value):
        value = int(value)
    if not _is_int(value):
        raise DefaultError(
            f"default of {_article(type_name)} column must be a whole number, not {_what(value)}"
        )
    if not bounds[0] <= value <= bounds[1]:
        raise DefaultError(f"default {value} is out of range for {type_name}")
    return value


def _timestamp(value: Any) -> str:
    if not isinstance(value, str):
        raise DefaultError(
            f"default of a timestamp column must be now or an ISO 8601 string, not {_what(value)}"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise DefaultError(
            f"default {clip(value)!r} is neither now nor an ISO 8601 timestamp"
        ) from None
    if parsed.tzinfo is None:
        raise DefaultError(f"default {value!r} has no time zone; add one, e.g. {value}Z")
    try:
        moment = parsed.astimezone(UTC)
    except OverflowError:
        raise DefaultError(f"default {value!r} is out of range for a timestamp") from None
    if moment.year < 1:  # pragma: no cover - astimezone overflows first
        raise DefaultError(f"default {value!r} is out of range for a timestamp")
    return moment.isoformat().replace("+00:00", "Z")


def _float(value: Any) -> float:
    if not (_is_int(value) or isinstance(value, float)):
        raise DefaultError(f"default of a float column must be a number, not {_what(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise DefaultError("default is out of range for a float") from None
    if not math.isfinite(number):
        raise DefaultError("default of a float column must be a finite number")
    return number + 0.0  # -0.0 becomes 0.0, as Postgres stores it


def _decimal(value: Any, written: str | None) -> str:
    if written is not None:
        text = written
    elif _is_int(value):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise DefaultError(
            f"default of a decimal column must be a number or a numeric string "
            f"like '12.50', not {_what(value)}"
        )
    match = _DECIMAL_RE.fullmatch(text)
    if not match:
        raise DefaultError(f"default {clip(text)!r} is not a decimal number like '12.50'")
    # Checked before the digits are written out: '1e400000000' is 90 bytes of YAML and
    # 400 million digits in plain notation.
    exponent = match.group(4) or "0"
    if len(exponent.lstrip("+-").lstrip("0")) > 9:  # beyond any limit (and Decimal's own)
        raise DefaultError(f"default {clip(text)!r} is out of range for a decimal")
    number = Decimal(text)
    _, digits, exp = number.as_tuple()
    assert isinstance(exp, int)  # the pattern admits no NaN or infinity
    before = 0 if number.is_zero() else max(0, len(digits) + exp)
    after = max(0, -exp)
    if before > NUMERIC_BEFORE or after > NUMERIC_AFTER:
        raise DefaultError(
            f"default {clip(text)!r} has {before} digits before the point and {after} after; "
            f"Postgres numeric holds at most {NUMERIC_BEFORE} before and {NUMERIC_AFTER} after"
        )
    # Plain notation, no negative zero: the form Postgres's numeric gives back.
    return format(number.copy_abs() if number.is_zero() else number, "f")


def _text(value: Any, type_name: str) -> str:
    if not isinstance(value, str):
        raise DefaultError(
            f"default of {_article(type_name)} column must be a string, not "
            f"{_what(value)}; quote it"
        )
    if "\x00" in value:
        raise DefaultError("default must not contain a NUL character (Postgres cannot store it)")
    return value


def _bytes(value: Any) -> str:
    try:
        if not isinstance(value, str):
            raise TypeError
        decoded = base64.b64decode(value, validate=True)
    except (TypeError, binascii.Error):
        raise DefaultError("default of a bytes column must be a base64 string") from None
    return base64.b64encode(decoded).decode("ascii")


def _json(value: Any) -> Default:
    try:
        default = Default.json_value(value)
    except ValueError:
        raise DefaultError("default must be valid JSON (no NaN or infinity)") from None
    if "\\u0000" in canonical_json(value).decode():
        raise DefaultError("default must not contain a NUL character (Postgres cannot store it)")
    return default


def _item_ok(item: ItemType, value: Any) -> bool:
    logical = LOGICAL[item.type]
    if logical.items:
        assert item.items is not None
        return isinstance(value, list) and all(_item_ok(item.items, v) for v in value)
    if logical.default == "json":
        return True
    try:
        _scalar(item.type, value, None)
    except DefaultError:
        return False
    return True


def _scalar(type_name: str, value: Any, written: str | None) -> str | int | float | bool:
    logical = LOGICAL.get(type_name)
    match logical.default if logical else None:
        case "timestamp":
            return _timestamp(value)
        case "text":
            return _text(value, type_name)
        case "int":
            assert logical is not None
            number = _integer(value, type_name)
            return str(number) if logical.default_as_string else number  # bigint: JSON-safe
        case "float":
            return _float(value)
        case "decimal":
            return _decimal(value, written)
        case "boolean":
            if not isinstance(value, bool):
                raise DefaultError(
                    f"default of a boolean column must be true or false, not {_what(value)}"
                )
            return value
        case "bytes":
            return _bytes(value)
    raise DefaultError(f"unknown type {type_name!r}")  # pragma: no cover


def normalize_default(
    type_name: str, items: ItemType | None, value: Any, *, written: str | None = None
) -> Default | None:
    """The IR default for ``value`` on a column of ``type_name``; None for no default.

    ``written`` is the YAML text of a float value, so a decimal keeps every digit written.
    """
    if value is None:
        return None
    logical = LOGICAL.get(type_name)
    if logical is None:
        raise DefaultError(f"unknown type {type_name!r}")  # pragma: no cover
    if logical.default_now and value == "now":
        return Default.now()
    if value == "now" and (logical.items or logical.default not in ("text", "json")):
        # for text and json columns "now" is a value; an array's elements are not timestamps
        raise DefaultError("default now is only for timestamp columns")
    if logical.default == "json" and not logical.items:
        return _json(value)
    if logical.items:
        assert items is not None
        if not _item_ok(ItemType("array", items), value):
            raise DefaultError(f"default of an array column must be a list of {_item_name(items)}")
        return _json(value)
    return Default("literal", _scalar(type_name, value, written))


def _item_name(item: ItemType) -> str:
    return f"lists of {_item_name(item.items)}" if item.items else f"{item.type} values"
