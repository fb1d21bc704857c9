"""How schema values read in messages: the operator's spelling, not the IR's JSON.

Drift, compatibility and plan messages all show a difference as ``field: before -> after``
(``default: 'draft' -> none``, ``nullable: no -> yes``); one spelling everywhere, so a value
read in one message can be found in another and copied into ``schema/*.yaml``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .ir import Default


def default_text(default: Default | None) -> str:
    """``'draft'``, ``5``, ``now``, ``{"a":1}``, or ``none``."""
    if default is None:
        return "none"
    if default.kind == "now":
        return "now"
    if default.kind == "json":
        return str(default.value)
    value = default.value
    return "'" + value + "'" if isinstance(value, str) else value_text(value)


def value_text(value: Any) -> str:
    """One field's value as an operator reads it: yes/no, none; a default (``{"literal": ..}``)
    as its literal, quoted when it is a string."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value  # a name: a type, a table.column, an action
    if isinstance(value, Mapping):
        if "literal" in value and len(value) == 1:
            literal = value["literal"]
            return "'" + literal + "'" if isinstance(literal, str) else value_text(literal)
        if value.get("now") is True and len(value) == 1:
            return "now"
        if "json" in value and len(value) == 1:
            return json.dumps(value["json"], separators=(",", ":"), sort_keys=True)
        return "{ " + ", ".join(f"{k}: {value_text(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def field_diffs(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """``field: before -> after`` for every field whose value differs, in ``before``'s order."""
    keys = list(before) + [k for k in after if k not in before]
    return [
        f"{k}: {value_text(before.get(k))} -> {value_text(after.get(k))}"
        for k in keys
        if before.get(k) != after.get(k)
    ]
