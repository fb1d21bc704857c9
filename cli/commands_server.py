"""Server-side commands: ``stk hub serve``, ``stk hub create-operator`` and ``stk dev``."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

from cyclopts import App, Parameter

from . import output

hub_app = App(name="hub", help="Run the Hub, and manage it from the server it runs on.")


@hub_app.command(name="serve")
def hub_serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8420,
    store: str | None = None,
    data_dir: Path | None = None,
) -> int:
    """Serve the Hub (SQLite store in the data dir unless --store names another).

    Settings may also come from STK_HUB_STORE, STK_HUB_DATA_DIR and STK_HUB_MASTER_KEY;
    STK_BRIDGE_TOKENS (comma-separated) are the service tokens the Bridge calls /internal with.

    Example: stk hub serve --port 8420 --store sqlite:////srv/hub/hub.db

    Parameters
    ----------
    host
        the address to listen on
    port
        the port to listen on
    store
        the store URL, e.g. sqlite:////srv/hub/hub.db (default: STK_HUB_STORE, else SQLite)
    data_dir
        the Hub's data folder (default: STK_HUB_DATA_DIR, else the user data folder)
    """
    from santokit.hub.serve import serve

    serve(host, port, store, data_dir)
    return 0


@hub_app.command(name="create-operator")
def hub_create_operator(
    *,
    email: str,
    password_stdin: bool = False,
    store: str | None = None,
    data_dir: Path | None = None,
) -> int:
    """Create an operator, writing straight to the store; the first one is the org owner.

    Example: stk hub create-operator --email ops@example.com --password-stdin

    Parameters
    ----------
    email
        the operator's email, their login
    password_stdin
        read the password from the first line of stdin instead of a prompt
    store
        the store URL, e.g. sqlite:////srv/hub/hub.db (default: STK_HUB_STORE, else SQLite)
    data_dir
        the Hub's data folder (default: STK_HUB_DATA_DIR, else the user data folder)
    """
    from santokit.hub.serve import create_operator

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            output.error("the passwords differ")
            return 2
    if len(password) < 8:
        output.error("the password needs at least 8 characters")
        return 2
    role = create_operator(email, password, store, data_dir, announce=output.notice)
    output.line(f"operator {email} created (org role: {role})")
    return 0


@hub_app.command(name="grant")
def hub_grant(
    *, email: str, project: str, role: str, store: str | None = None, data_dir: Path | None = None
) -> int:
    """Give an operator a role (viewer, deployer, admin) in a project, on the server.

    Example: stk hub grant --email dev@example.com --project shop --role deployer

    Parameters
    ----------
    email
        the operator's email
    project
        the project
    role
        viewer, deployer or admin
    store
        the store URL, e.g. sqlite:////srv/hub/hub.db (default: STK_HUB_STORE, else SQLite)
    data_dir
        the Hub's data folder (default: STK_HUB_DATA_DIR, else the user data folder)
    """
    from santokit.hub.serve import grant

    grant(email, project, role, store, data_dir, announce=output.notice)
    output.line(f"{email} is {role} in project {project}")
    return 0


def dev(
    *,
    port: Annotated[int, Parameter(help="the Hub's port on 127.0.0.1")] = 8420,
    dir: Annotated[
        Path | None, Parameter(help="the repository (default: the one holding the cwd)")
    ] = None,
) -> int:
    """Run a complete local sandbox: Hub, embedded Postgres, a logged-in dev operator, context.

    Everything is kept in .stk/dev/ of the repository; Ctrl-C, SIGTERM or SIGHUP stop it all,
    and a second run in the same repository is refused while the first one runs.

    Example: stk dev --port 8420
    """
    from santokit.core.validation import find_root

    from .dev import run_dev

    root = dir.resolve() if dir else find_root(Path.cwd())

    def say(text: str) -> None:
        output.line(text)
        sys.stdout.flush()

    run_dev(root, port, say)
    return 0
