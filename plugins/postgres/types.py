"""The Postgres storage of each logical type (core/logical.py), and the way back.

Keyed by the registry's names: a type added there without a Postgres mapping fails
tests/test_logical_types.py, never silently at apply time.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from santokit.core.logical import LOGICAL_TYPES

PG_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "string": "text",
        "file": "text",
        "int": "integer",
        "bigint": "bigint",
        "float": "double precision",
        "decimal": "numeric",
        "boolean": "boolean",
        "json": "jsonb",
        "array": "jsonb",
        "timestamp": "timestamp with time zone",
        "bytes": "bytea",
    }
)

# Postgres type -> the logical types stored as it, in registry order: without a declaration to
# say otherwise, a column reads back as the first (text: string, not file; jsonb: json).
LOGICAL_OF: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        pg: tuple(t for t in LOGICAL_TYPES if PG_TYPES.get(t) == pg)
        for pg in dict.fromkeys(PG_TYPES[t] for t in LOGICAL_TYPES if t in PG_TYPES)
    }
)
