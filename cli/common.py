"""What every Hub command shares: the override options, value resolution, the client, tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

from cyclopts import Parameter

from . import context as ctx
from . import output
from .client import HubClient
from .output import Column

Opt = Annotated[str | None, Parameter(help="overrides STK_* and .stk/context.json")]
ProjectOpt = Annotated[
    str | None, Parameter(help="the project (default: STK_PROJECT, then .stk/context.json)")
]
EnvOpt = Annotated[str | None, Parameter(help="the env (default: STK_ENV, then .stk/context.json)")]
HubOpt = Annotated[
    str | None, Parameter(help="the Hub URL (default: STK_HUB_URL, then .stk/context.json)")
]


def cwd() -> Path:
    return Path.cwd()


def client(hub: str | None) -> HubClient:
    """A client for the resolved Hub URL, with this machine's token (or STK_TOKEN)."""
    return HubClient(ctx.resolve("hub", hub, cwd()))


def target(project: str | None, env: str | None) -> tuple[str, str]:
    """The (project, env) a command acts on: flag, then STK_*, then the context file."""
    return ctx.resolve("project", project, cwd()), ctx.resolve("env", env, cwd())


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str | Column]) -> None:
    """``output.table``; a bare name is a column that is never dropped."""
    output.table(rows, [c if isinstance(c, Column) else Column(c) for c in columns])
