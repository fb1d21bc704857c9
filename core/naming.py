"""Deterministic names for constraints and indexes (schema.md §4).

Names are derived from the table and columns so that a plan never renames what it created. A name
over 63 bytes (PostgreSQL's limit, past which it silently truncates) is cut and given a short hash
of the full name, so two long names that share a prefix stay distinct and stable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .identifiers import MAX_IDENTIFIER_BYTES


def bounded_name(*parts: str, suffix: str) -> str:
    full = "_".join((*parts, suffix))
    if len(full.encode()) <= MAX_IDENTIFIER_BYTES:
        return full
    tag = hashlib.sha256(full.encode()).hexdigest()[:8]
    room = MAX_IDENTIFIER_BYTES - len(suffix) - len(tag) - 2
    return f"{full[:room].rstrip('_')}_{tag}_{suffix}"


def primary_key_name(table: str) -> str:
    return bounded_name(table, suffix="pkey")


def unique_name(table: str, column: str) -> str:
    return bounded_name(table, column, suffix="key")


def foreign_key_name(table: str, column: str) -> str:
    return bounded_name(table, column, suffix="fkey")


def index_name(table: str, columns: Sequence[str], *, unique: bool) -> str:
    return bounded_name(table, *columns, suffix="uniq" if unique else "idx")
