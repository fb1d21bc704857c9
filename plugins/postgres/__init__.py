"""The built-in ``postgres`` engine plugin (psycopg 3).

The driver is imported only when an engine is asked for, so commands that never touch a
database (``stk validate``) do not pay for loading it.
"""

from __future__ import annotations

from santokit.core.plugins import hookimpl


@hookimpl
def santokit_engines() -> dict[str, object]:
    from .engine import PostgresEngine

    return {"postgres": PostgresEngine()}
