"""The ``stk`` application: command registration and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys

from cyclopts import App

from santokit.core import __version__
from santokit.core.errors import SantokitError, UsageError

from . import (
    commands_apikey,
    commands_hub,
    commands_local,
    commands_release,
    commands_server,
    output,
)
from .client import HubError, HubUnreachable

app = App(
    name="stk",
    version=__version__,
    help="Santokit operator CLI: validate, plan and release your declared schema and permissions.",
)
app.command(commands_local.validate)
app.command(commands_local.plugins)
for _command in (
    commands_hub.login,
    commands_hub.logout,
    commands_hub.whoami,
    commands_hub.apply,
    commands_server.dev,
):
    app.command(_command)
for _sub in (
    commands_hub.context_app,
    commands_hub.project_app,
    commands_hub.env_app,
    commands_hub.connections_app,
    commands_server.hub_app,
    commands_release.release_app,
    commands_apikey.apikey_app,
):
    app.command(_sub)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: exit 0 success, 1 refused or failed, 2 usage/configuration."""
    try:
        result = app(argv if argv is not None else sys.argv[1:], result_action="return_value")
    except UsageError as exc:
        output.error(exc.message)
        return 2
    except (HubError, HubUnreachable) as exc:
        output.error(exc.message)
        return 1
    except SantokitError as exc:
        output.error(exc.message)
        return 1
    except KeyboardInterrupt:
        output.error("interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("STK_DEBUG"):
            raise
        # the type only: an exception's text may hold a URL or a password from the input
        output.error(
            f"internal error ({type(exc).__name__}); rerun with STK_DEBUG=1 for a traceback "
            "and report it"
        )
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
