"""The built-in ``postgres`` engine plugin (psycopg 3).

The driver is imported only when an engine is asked for, so commands that never touch a
database (``stk validate``) do not pay for loading it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from santokit.core.plugins import hookimpl

if TYPE_CHECKING:
    from santokit.core.contracts import Engine


@hookimpl
def santokit_engines() -> dict[str, Engine]:  # mypy checks PostgresEngine against the protocol
    from .engine import PostgresEngine

    return {"postgres": PostgresEngine()}
