"""The built-in Hub store (SQLAlchemy Core): SQLite by default, PostgreSQL for several replicas.

One schema, one set of queries, two dialects: every multi-row change is one transaction on both.
"""

from __future__ import annotations

from santokit.core.plugins import hookimpl


@hookimpl
def santokit_release_store(url: str) -> object | None:
    if url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        from .store import SqlStore

        return SqlStore(url)
    return None
