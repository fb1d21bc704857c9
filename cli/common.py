"""What every Hub command shares: the override option type, value resolution, the client, tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from cyclopts import Parameter

from . import context as ctx
from . import output
from .client import HubClient

Opt = Annotated[str | None, Parameter(help="overrides STK_* and .stk/context.json")]


def cwd() -> Path:
    return Path.cwd()


def client(hub: str | None) -> HubClient:
    """A client for the resolved Hub URL, with this machine's token (or STK_TOKEN)."""
    return HubClient(ctx.resolve("hub", hub, cwd()))


def target(project: str | None, env: str | None) -> tuple[str, str]:
    """The (project, env) a command acts on: flag, then STK_*, then the context file."""
    return ctx.resolve("project", project, cwd()), ctx.resolve("env", env, cwd())


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    from rich.table import Table

    table = Table(*columns, box=None)
    for row in rows:
        table.add_row(*[str(row.get(c)) if row.get(c) is not None else "-" for c in columns])
    output.out.print(table)
