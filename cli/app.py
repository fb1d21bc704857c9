"""The ``stk`` application: the command tree and the one place errors become exit codes.

Start-up is kept cheap (``stk --version`` and ``stk --help`` are run by hand and by scripts):
this module imports neither cyclopts nor a command module. Each command's module is imported
only when that command runs, so ``stk validate`` never loads the HTTP client.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import sys
import textwrap
from typing import TYPE_CHECKING, Any

from santokit.core import __version__
from santokit.core.errors import PluginError, SantokitError, UsageError
from santokit.core.redact import redact_url

from . import output
from .errors import HubError, HubUnreachable, TokenRefused

if TYPE_CHECKING:
    from cyclopts import App

# cyclopts quotes a mistyped value back (`--limit db://app:pw@db/app`): never a password
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")
HELP = "Santokit operator CLI: validate, plan and release your declared schema and permissions."

# (command, "module:object", the line `stk --help` shows). The line is written here so the
# help page needs no import; tests/test_cli_output.py checks it is the command's own first line.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    (
        "validate",
        "santokit.cli.commands_local:validate",
        "Check schema/*.yaml and config/permissions.yaml offline, reporting every problem at once.",
    ),
    (
        "plugins",
        "santokit.cli.commands_local:plugins",
        "List the loaded plugins with their versions and the hooks each implements.",
    ),
    (
        "login",
        "santokit.cli.commands_hub:login",
        "Log in to the Hub; the token is kept in your user config folder (mode 0600).",
    ),
    (
        "logout",
        "santokit.cli.commands_hub:logout",
        "Log out: the Hub revokes the token and it is removed from this machine.",
    ),
    (
        "whoami",
        "santokit.cli.commands_hub:whoami",
        "Show who you are logged in as, on which Hub, and your roles.",
    ),
    (
        "apply",
        "santokit.cli.commands_hub:apply",
        "Validate, plan and apply the schema, then release (steps: schema,permissions,release).",
    ),
    (
        "dev",
        "santokit.cli.commands_server:dev",
        "Run a complete local sandbox: Hub, embedded Postgres, a logged-in dev operator, context.",
    ),
    (
        "context",
        "santokit.cli.commands_hub:context_app",
        "The repo context .stk/context.json (hub, project, env).",
    ),
    ("project", "santokit.cli.commands_hub:project_app", "Projects."),
    (
        "env",
        "santokit.cli.commands_hub:env_app",
        "Environments of a project (dev, prod, ...).",
    ),
    (
        "connections",
        "santokit.cli.commands_hub:connections_app",
        "Database connections of an environment.",
    ),
    (
        "hub",
        "santokit.cli.commands_server:hub_app",
        "Run the Hub, and manage it from the server it runs on.",
    ),
    (
        "release",
        "santokit.cli.commands_release:release_app",
        "Releases: current, list, show, promote, rollback.",
    ),
    (
        "apikey",
        "santokit.cli.commands_apikey:apikey_app",
        "Project API keys of an env: create, list, revoke.",
    ),
)


def build_app() -> App:
    """The cyclopts app; it raises its usage errors for ``main`` to print as one line."""
    from cyclopts import App

    app = App(
        name="stk",
        version=__version__,
        help=HELP,
        print_error=False,
        exit_on_error=False,
        help_on_error=False,
        suppress_keyboard_interrupt=False,
    )
    for name, import_path, _ in COMMANDS:  # the command's own help: its docstring, whole
        app.command(import_path, name=name)
    return app


def print_overview() -> None:
    """``stk --help``: the command list, from ``COMMANDS`` alone.

    cyclopts and rich cost 0.2 s of CPU to import, more than the whole budget of this page; a
    command's own ``--help`` is cyclopts' (its options are known only once its module is loaded).
    """
    width = max(40, min(shutil.get_terminal_size((100, 24)).columns, 100))
    names = [*sorted(name for name, _, _ in COMMANDS), "--help, -h", "--version"]
    lines = {name: text for name, _, text in COMMANDS}
    lines |= {"--help, -h": "Display this message and exit.", "--version": "Print the version."}
    pad = max(map(len, names)) + 2
    out = ["Usage: stk COMMAND [OPTIONS]", "", *textwrap.wrap(HELP, width), "", "Commands:"]
    for name in names:
        wrapped = textwrap.wrap(lines[name], width - pad - 2) or [""]
        out.append(f"  {name.ljust(pad)}{wrapped[0]}")
        out.extend(" " * (pad + 2) + more for more in wrapped[1:])
    out += ["", "Run 'stk COMMAND --help' for a command's options and an example."]
    sys.stdout.write("\n".join(out) + "\n")


def _wants_json(args: list[str]) -> bool:
    """``--json`` among the options (not after ``--``, where it would be a value)."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def _fail(
    args: list[str], message: str, code: str, status: int, json_message: str = "", **extra: Any
) -> int:
    """Print the failure: one ``error:`` line on stderr and, with ``--json``, one document on
    stdout unless the command already printed its own (apply prints its plan's findings).

    The document is ``{"error": {"code", "message", "requestId"?, "details"?}}``, the shape of
    the Hub's own error answers (hub.md), so a script reads every failure the same way.
    """
    output.error(message)
    if _wants_json(args) and not output.state.json_emitted:
        error: dict[str, Any] = {"code": code, "message": json_message or message}
        error.update({k: v for k, v in extra.items() if v is not None})
        output.emit_json({"error": error})
    return status


# Commands that run a server: the only ones that live long enough to need the cycle collector.
LONG_RUNNING = (["hub", "serve"], ["dev"])


def _pause_gc(args: list[str]) -> None:
    """A one-shot command builds its objects (the schema IR, parsed YAML) and exits; its few
    cycles are freed at exit. Without the collector's passes over them ``stk validate`` and
    ``stk apply`` of 500 tables take about a quarter less time (measured)."""
    if not any(args[: len(cmd)] == cmd for cmd in LONG_RUNNING):
        gc.disable()


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: exit 0 success, 1 refused or failed, 2 usage/configuration."""
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None:  # the process is ours (not a test calling main in its own process)
        _pause_gc(args)
    if args == ["--version"]:  # the commonest probes answer before anything is imported
        sys.stdout.write(__version__ + "\n")
        return 0
    if args in ([], ["--help"], ["-h"]):
        print_overview()
        return 0
    output.state.json_emitted = False
    try:
        from cyclopts import CycloptsError

        try:
            result = build_app()(args, result_action="return_value")
        except CycloptsError as exc:  # a bad flag, a missing option, an unknown command
            message = _URL.sub(lambda m: redact_url(m[0]), " ".join(str(exc).split()))
            message = message or type(exc).__name__
            return _fail(args, message, "USAGE_ERROR", 2)
    except (UsageError, PluginError) as exc:  # a usage or a configuration error: exit 2
        return _fail(args, exc.message, exc.code, 2)
    except HubError as exc:  # a refused token is fixed like a missing one: stk login, exit 2
        return _fail(
            args,
            exc.message,
            exc.code,
            2 if isinstance(exc, TokenRefused) else 1,
            json_message=exc.hub_message,
            requestId=exc.request_id,
            details=exc.details or None,
        )
    except HubUnreachable as exc:
        return _fail(args, exc.message, exc.code, 1)
    except SantokitError as exc:
        return _fail(args, exc.message, exc.code, 1, details=exc.details or None)
    except KeyboardInterrupt:
        return _fail(args, "interrupted", "INTERRUPTED", 130)
    except Exception as exc:
        if os.environ.get("STK_DEBUG"):
            raise
        # the type only: an exception's text may hold a URL or a password from the input
        return _fail(
            args,
            f"internal error ({type(exc).__name__}); rerun with STK_DEBUG=1 for a traceback "
            "and report it",
            "INTERNAL_ERROR",
            1,
        )
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
