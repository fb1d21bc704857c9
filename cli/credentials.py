"""Operator tokens written by ``stk login``, one per Hub URL (cli.md §1).

The file holds secrets: it is created 0600 in a 0700 folder, replaced atomically, and its content
never appears in an error message.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import platformdirs

from santokit.core.errors import UsageError

from .context import write_atomic

CREDENTIALS_FILE = "credentials.json"


def credentials_path() -> Path:
    """``STK_CONFIG_DIR`` (tests, several identities) else the platform's user config folder."""
    folder = os.environ.get("STK_CONFIG_DIR") or platformdirs.user_config_dir("santokit")
    return Path(folder) / CREDENTIALS_FILE


def _key(hub: str) -> str:
    """``http://h/`` and ``http://h`` are the same Hub, as in ``context.resolve``."""
    return hub.rstrip("/")


def _is_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("token"), str)
        and all(isinstance(entry.get(k, ""), str) for k in ("email", "expiresAt"))
    )


def _load(path: Path) -> dict[str, dict[str, str]]:
    """All stored entries by Hub URL; errors name the file but never quote it."""
    if not path.is_file():
        return {}
    fix = "delete it and run 'stk login' again"
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"cannot read credentials file {path}: {e.strerror or e}") from e
    except json.JSONDecodeError as e:  # e.msg and the position only: str(e) is safe, e.doc is not
        raise UsageError(
            f"credentials file {path} is not valid JSON (line {e.lineno} column {e.colno}); {fix}"
        ) from None
    except UnicodeDecodeError:
        raise UsageError(f"credentials file {path} is not UTF-8 text; {fix}") from None
    hubs = content.get("hubs", {}) if isinstance(content, dict) else None
    if not isinstance(hubs, dict) or not all(_is_entry(v) for v in hubs.values()):
        raise UsageError(f"credentials file {path} does not hold valid credentials; {fix}")
    return hubs


def _save(path: Path, hubs: dict[str, dict[str, str]]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"hubs": hubs}, indent=2, sort_keys=True) + "\n", mode=0o600)


def save_token(hub: str, token: str, email: str, expires_at: str) -> Path:
    """Store the token for ``hub``, keeping the other Hubs' tokens; returns the file."""
    path = credentials_path()
    hubs = _load(path)
    hubs[_key(hub)] = {"token": token, "email": email, "expiresAt": expires_at}
    _save(path, hubs)
    return path


def stored(hub: str) -> dict[str, str] | None:
    """The stored entry for ``hub`` (token, email, expiresAt), ignoring ``STK_TOKEN``."""
    entry = _load(credentials_path()).get(_key(hub))
    return dict(entry) if entry is not None else None


def load_token(hub: str) -> str | None:
    """``STK_TOKEN`` if set (CI), else the token stored for ``hub``, else None."""
    from_env = os.environ.get("STK_TOKEN")
    if from_env:
        return from_env
    entry = stored(hub)
    return entry["token"] if entry is not None else None


def forget_token(hub: str) -> bool:
    """Remove ``hub``'s token; True if there was one. Other Hubs' tokens stay."""
    path = credentials_path()
    hubs = _load(path)
    if hubs.pop(_key(hub), None) is None:
        return False
    _save(path, hubs)
    return True
