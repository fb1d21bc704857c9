"""Running the Hub (``stk hub serve``) and the server-side ``stk hub create-operator``."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from . import auth
from .service import Hub

log = logging.getLogger("santokit.hub")


def default_data_dir() -> Path:
    return Path(os.environ.get("STK_HUB_DATA_DIR") or user_data_dir("santokit-hub"))


def default_store(data_dir: Path) -> str:
    return os.environ.get("STK_HUB_STORE") or f"sqlite:///{data_dir / 'hub.db'}"


class JsonLines(logging.Formatter):
    """One JSON object per line; only fields we put there, never request bodies or headers."""

    FIELDS = (
        "requestId",
        "method",
        "route",
        "status",
        "ms",
        "error",
        "path",
        "connection",
        "tables",
    )

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            # ISO 8601 in UTC with a Z, so lines of replicas in any zone sort and correlate
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            "logger": record.name,
        }
        for name in self.FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        return json.dumps(entry, sort_keys=True)


LOG_LEVELS = ("debug", "info", "warning", "error")


def log_level() -> int:
    """``STK_HUB_LOG_LEVEL`` (default info); debug adds a line per catalog read of a database."""
    raw = os.environ.get("STK_HUB_LOG_LEVEL", "").strip().lower() or "info"
    if raw not in LOG_LEVELS:
        from santokit.core.errors import UsageError

        raise UsageError(f"STK_HUB_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {raw!r}")
    return int(logging.getLevelName(raw.upper()))


def configure_logging(path: Path | None = None) -> None:
    """JSON lines to stderr, or appended to ``path``, at ``STK_HUB_LOG_LEVEL``."""
    level = log_level()
    handler: logging.Handler = logging.FileHandler(path) if path else logging.StreamHandler()
    handler.setFormatter(JsonLines())
    root = logging.getLogger("santokit")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def open_hub(
    store: str | None, data_dir: Path | None, announce: Callable[[str], None] | None = None
) -> Hub:
    """The Hub of a store. When this call creates the master key, where it is is said once,
    by ``announce`` (a CLI command's stderr) or else the log: the command that made the key
    is the only one that knows it was made."""
    data = data_dir or default_data_dir()
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    hub, created_key = Hub.open(store or default_store(data), data)
    if created_key is not None:
        message = (
            f"created the master key {created_key} (mode 0600); keep a copy apart from the "
            "store's backups (the two together reveal every stored connection URL, and the "
            "store without it has lost them); production should pass STK_HUB_MASTER_KEY"
        )
        if announce is None:
            log.warning(message, extra={"path": str(created_key)})
        else:
            announce(message)
    return hub


def serve(host: str, port: int, store: str | None, data_dir: Path | None) -> None:
    import uvicorn

    from .app import create_app

    configure_logging()
    hub = open_hub(store, data_dir)
    if not hub.bridge_tokens:
        log.warning("STK_BRIDGE_TOKENS is not set: every /internal (Bridge) call is refused")
    log.info("hub listening", extra={"path": f"http://{host}:{port}"})
    uvicorn.run(create_app(hub), host=host, port=port, log_level="warning", access_log=False)


def create_operator(
    email: str,
    password: str,
    store: str | None,
    data_dir: Path | None,
    announce: Callable[[str], None] | None = None,
) -> str:
    """Create an operator; the first one becomes the org owner. Returns its org role."""
    hub = open_hub(store, data_dir, announce)
    with hub.store.tx() as tx:
        role = "owner" if tx.count_operators() == 0 else "member"
        tx.insert_operator(email, auth.hash_password(password), role)
        tx.audit("operator.create", "hub", "req_cli", detail={"email": email, "orgRole": role})
    return role


def grant(
    email: str,
    project: str,
    role: str,
    store: str | None,
    data_dir: Path | None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Set an operator's role in a project (server-side administration)."""
    from santokit.core.errors import UsageError

    if role not in auth.ROLES:
        raise UsageError(f"role must be one of {', '.join(auth.ROLES)}")
    hub = open_hub(store, data_dir, announce)
    with hub.store.tx() as tx:
        operator = tx.operator_by_email(email)
        if operator is None:
            raise UsageError(f"no operator with email {email}")
        if tx.project(project) is None:
            raise UsageError(f"project {project} does not exist")
        tx.grant(operator["id"], project, role)
        tx.audit(
            "operator.grant",
            "hub",
            "req_cli",
            project=project,
            detail={"email": email, "role": role},
        )
