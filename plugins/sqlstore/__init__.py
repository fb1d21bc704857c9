"""The built-in Hub store (SQLAlchemy Core): SQLite by default, PostgreSQL for several replicas.

One schema, one set of queries, two dialects: every multi-row change is one transaction on both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from santokit.core.plugins import hookimpl

if TYPE_CHECKING:
    from santokit.core.contracts import ReleaseStore


@hookimpl
def santokit_release_store(url: str) -> ReleaseStore | None:  # checked against the protocol
    if url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        from .store import SqlStore

        return SqlStore(url)
    return None
