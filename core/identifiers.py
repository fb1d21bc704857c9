"""Identifier rules for table, column, index and connection names (schema.md §2).

The same rule is encoded in ``specs/schema-file.schema.json`` for tools without Santokit; this
module explains *why* a name is refused, in one sentence.
"""

from __future__ import annotations

import re

MAX_IDENTIFIER_BYTES = 63
IDENTIFIER_RE = re.compile(r"[a-z_][a-z0-9_]*")
RESERVED_PREFIX = "stk_"

# PostgreSQL keywords that cannot name a table or column unquoted: the categories "reserved" and
# "reserved (can be function or type)" of pg_get_keywords() (catcode R and T).
POSTGRES_RESERVED = frozenset(
    """
    all analyse analyze and any array as asc asymmetric authorization binary both case cast
    check collate collation column concurrently constraint create cross current_catalog
    current_date current_role current_schema current_time current_timestamp current_user
    default deferrable desc distinct do else end except false fetch for foreign freeze from
    full grant group having ilike in initially inner intersect into is isnull join lateral
    leading left like limit localtime localtimestamp natural not notnull null offset on only
    or order outer overlaps placing primary references returning right select session_user
    similar some symmetric system_user table tablesample then to trailing true union unique
    user using variadic verbose when where window with
    """.split()
)


def identifier_problem(name: object) -> str | None:
    """Why ``name`` is not a valid identifier, or None when it is."""
    if not isinstance(name, str):
        return "must be a name (a string)"
    if not name:
        return "must not be empty"
    if not IDENTIFIER_RE.fullmatch(name):
        return (
            f"{name!r} is not a valid name: use lowercase letters, digits and '_', "
            "starting with a letter or '_'"
        )
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        return f"{name!r} is {len(name.encode())} bytes long; names are at most 63 bytes"
    if name.startswith(RESERVED_PREFIX):
        return f"{name!r} starts with 'stk_', which is reserved for Santokit's own objects"
    if name in POSTGRES_RESERVED:
        return f"{name!r} is a reserved word in PostgreSQL; choose another name"
    return None
