"""A plugin that registers a second engine named ``postgres`` (the built-in's name): the Hub
must refuse to start, naming both plugins."""

from __future__ import annotations

from santokit.core.plugins import hookimpl
from santokit.plugins.postgres.engine import PostgresEngine


@hookimpl
def santokit_engines() -> dict[str, object]:
    return {"postgres": PostgresEngine()}
