"""A throwaway PostgreSQL server from the binaries of the ``pgserver`` package.

Used by ``stk dev`` and the tests: it listens on 127.0.0.1 with password authentication (so the
Hub connects exactly as it would to a customer's database) and on a Unix socket in its data dir.
As root it runs the server as the unprivileged ``pgserver`` user, since Postgres refuses root.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any


def _bin_path() -> Path:
    """pgserver's bundled binaries, found without importing pgserver (its import has side
    effects we do not need: runtime-dir lookups and warnings)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _bin_path()

SYSTEM_USER = "pgserver"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _ensure_system_user() -> None:
    import pwd

    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )


def _open_path(path: Path) -> None:
    """Let the server user traverse every parent of ``path``."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | 0o055)


class EmbeddedPostgres:
    """One server in ``data_dir``; ``start()`` creates it on first use."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        password: str | None = None,
        user: str = "postgres",
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or _free_port()
        self.user = user
        self.password = password or secrets.token_urlsafe(18)
        self._run_as: dict[str, Any] = {}

    def url(
        self, database: str = "postgres", *, user: str | None = None, password: str | None = None
    ) -> str:
        pw = self.password if password is None else password
        return f"postgresql://{user or self.user}:{pw}@127.0.0.1:{self.port}/{database}"

    def _cmd(self, name: str, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(POSTGRES_BIN_PATH / name), *args],
            check=True,
            capture_output=True,
            text=True,
            **self._run_as,
            **kw,
        )

    def start(self) -> EmbeddedPostgres:
        pgdata = self.data_dir / "pgdata"
        if _as_root():
            _ensure_system_user()
            self._run_as = {"user": SYSTEM_USER}
            # the server user must reach the binaries, wherever the virtualenv lives
            _open_path(POSTGRES_BIN_PATH)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not (pgdata / "PG_VERSION").exists():
            if _as_root():
                _open_path(self.data_dir)
                shutil.chown(self.data_dir, SYSTEM_USER)
            pwfile = self.data_dir / "pwfile"
            pwfile.write_text(self.password + "\n")
            if _as_root():
                shutil.chown(pwfile, SYSTEM_USER)
            try:
                self._cmd(
                    "initdb",
                    "-D",
                    str(pgdata),
                    "-U",
                    self.user,
                    "--pwfile",
                    str(pwfile),
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                )
            finally:
                pwfile.unlink()
        # TCP only: a Unix socket path in a deep folder can exceed the 107-byte limit
        options = (
            f"-p {self.port} -h 127.0.0.1 -k '' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        log = self.data_dir / "server.log"
        try:
            self._cmd(
                "pg_ctl",
                "-D",
                str(pgdata),
                "-w",
                "-t",
                "30",
                "-l",
                str(log),
                "-o",
                options,
                "start",
            )
        except subprocess.CalledProcessError:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            raise RuntimeError(
                "the embedded PostgreSQL did not start: " + (" | ".join(tail) or "no log")
            ) from None
        return self

    def stop(self) -> None:
        """Stop the server in ``data_dir``, whichever process started it."""
        pgdata = self.data_dir / "pgdata"
        if _as_root():
            self._run_as = {"user": SYSTEM_USER}
        if (pgdata / "postmaster.pid").exists():
            self._cmd("pg_ctl", "-D", str(pgdata), "-w", "-m", "fast", "stop")

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
