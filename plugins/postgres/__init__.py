"""The built-in ``postgres`` engine plugin (psycopg 3)."""

from __future__ import annotations

from santokit.core.plugins import hookimpl

from .engine import PostgresEngine


@hookimpl
def santokit_engines() -> dict[str, object]:
    return {"postgres": PostgresEngine()}
