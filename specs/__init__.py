"""The published JSON Schemas, shipped as package data so Santokit validates with the very files
that CI pipelines use without Santokit installed."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

SCHEMA_FILE = "schema-file.schema.json"
PERMISSIONS_FILE = "permissions-file.schema.json"
CONTEXT_FILE = "context.schema.json"


@cache
def load(name: str) -> dict[str, Any]:
    """Return the parsed JSON Schema called ``name`` (one of the constants above)."""
    return json.loads(files(__package__).joinpath(name).read_text(encoding="utf-8"))
