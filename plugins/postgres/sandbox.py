"""``stk dev``'s database server: a throwaway PostgreSQL holding one database per connection.

The CLI's sandbox orchestration (``santokit.cli.dev``) knows no engine; it asks the engine for a
``SandboxServer`` and this is the postgres one. The server's port and password are kept in
``postgres.json`` of the folder, so a restart serves the same URLs; a server an earlier, killed
run left behind is stopped first (the caller holds the sandbox's lock, so no live run owns it).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from santokit.core.contracts import Say
from santokit.core.errors import SantokitError
from santokit.core.localhost import port_free, write_private

if TYPE_CHECKING:  # importing it locates pgserver's binaries: only when a sandbox starts
    from .embedded import EmbeddedPostgres


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie nobody reaped yet is gone for our purpose
        status = Path(f"/proc/{pid}/status").read_text()
        return "\nState:\tZ" not in status
    return True


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid in ``postmaster.pid`` when that process still runs, else None."""
    try:
        first = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0]
        pid = int(first)
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


class PostgresSandbox:
    """The embedded server of one sandbox folder (``SandboxServer``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port: int | None = None
        self._server: EmbeddedPostgres | None = None

    def start(self, names: Sequence[str], say: Say) -> dict[str, str]:
        import psycopg

        from .embedded import EmbeddedPostgres

        settings_file = self.folder / "postgres.json"
        saved = json.loads(settings_file.read_text()) if settings_file.exists() else {}
        stale = postmaster_pid(self.folder / "postgres" / "pgdata")
        if stale is not None:
            try:
                EmbeddedPostgres(self.folder / "postgres").stop()
            except subprocess.CalledProcessError:
                raise SantokitError(
                    f"a PostgreSQL (pid {stale}) an earlier stk dev left running in "
                    f"{self.folder / 'postgres'} did not stop; stop that process, then run "
                    "stk dev again"
                ) from None
            say(f"stopped a PostgreSQL (pid {stale}) an earlier stk dev left running")
        port = saved.get("port") if saved.get("port") and port_free(saved["port"]) else None
        password = saved.get("password")
        server = EmbeddedPostgres(self.folder / "postgres", port=port, password=password)
        try:
            server.start()
        except RuntimeError as exc:
            raise SantokitError(f"{exc}; see {self.folder / 'postgres' / 'server.log'}") from None
        self._server, self.port = server, server.port
        write_private(settings_file, json.dumps({"port": server.port, "password": server.password}))
        urls = {}
        with psycopg.connect(server.url(), autocommit=True) as conn:
            have = {r[0] for r in conn.execute("select datname from pg_database")}
            for name in names:
                if name not in have:
                    quoted = name.replace('"', '""')
                    conn.execute(f'create database "{quoted}"'.encode())
                urls[name] = server.url(name)
        return urls

    def where(self, name: str) -> str:
        return f"127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
