"""End-to-end fixtures: a real Hub process on a real port, driven through the real ``stk``."""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from .conftest import EXAMPLE, STK, run_stk, write_files
from .pg import with_database

PASSWORD = "Op3rator-pass-word"
# The Bridge's service tokens (STK_BRIDGE_TOKENS): two, as while one is being rotated.
BRIDGE_TOKENS = ("bridge-token-0f3a9c2e7d41b865a1c3", "bridge-token-2b7e51d09ac34f68b2d4")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    out: str
    err: str


@dataclass
class HubProcess:
    data_dir: Path
    env: dict[str, str]
    store: str | None = None  # None: the default SQLite store in data_dir
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.data_dir / "hub.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(STK),
                    "hub",
                    "serve",
                    "--port",
                    str(self.port),
                    *self.store_args,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:  # e.g. the port was taken: never talk to another
                break
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    time.sleep(0.05)
                    if self.proc.poll() is None:
                        return
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"the hub did not start:\n{self.log.read_text()}")

    @property
    def store_args(self) -> list[str]:
        """The options that point a server-side command at this Hub's store."""
        return ["--data-dir", str(self.data_dir)] + (["--store", self.store] if self.store else [])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def hub_with_operator(data_dir: Path, **settings: str) -> HubProcess:
    """A started Hub on a fresh SQLite store whose one operator is ops@example.com; ``settings``
    are extra ``STK_*`` variables. The caller stops it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STK_")}
    env["STK_HUB_MASTER_KEY"] = base64.b64encode(secrets.token_bytes(32)).decode()
    env |= settings
    process = HubProcess(data_dir, env)
    subprocess.run(
        [
            str(STK),
            "hub",
            "create-operator",
            "--email",
            "ops@example.com",
            "--password-stdin",
            *process.store_args,
        ],
        input=PASSWORD + "\n",
        env=env,
        text=True,
        check=True,
        capture_output=True,
    )
    process.start()
    return process


@dataclass
class Sandbox:
    """A repository, an operator's machine (config dir), a Hub, and databases to point at."""

    repo: Path
    env: dict[str, str]
    hub: HubProcess
    pg_admin_url: str
    transcript: list[Run] = field(default_factory=list)

    def stk(
        self,
        *args: str,
        stdin: str | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Run:
        done = run_stk(
            *args,
            cwd=cwd or self.repo,
            env={**self.env, **(env or {})},
            stdin=stdin,
            inherit=False,
            timeout=120,
        )
        run = Run(args, done.returncode, done.stdout, done.stderr)
        self.transcript.append(run)
        return run

    def ok(self, *args: str, stdin: str | None = None) -> Run:
        run = self.stk(*args, stdin=stdin)
        assert run.code == 0, f"stk {' '.join(args)} -> {run.code}\n{run.out}\n{run.err}"
        return run

    def database(self, name: str) -> str:
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)'.encode())
            conn.execute(f'create database "{name}"'.encode())
        return with_database(self.pg_admin_url, name)

    def operator(self, email: str = "ops@example.com", password: str = PASSWORD) -> None:
        self.ok(
            "hub",
            "create-operator",
            "--email",
            email,
            "--password-stdin",
            *self.hub.store_args,
            stdin=password + "\n",
        )

    def login(self, email: str = "ops@example.com", password: str = PASSWORD) -> Run:
        return self.stk("login", "--email", email, "--password-stdin", stdin=password + "\n")


@pytest.fixture(params=["sqlite", "postgres"])
def sandbox(request: pytest.FixtureRequest, tmp_path: Path, pg_admin_url: str) -> Iterator[Sandbox]:
    """The same end-to-end tests run against the SQLite store and the PostgreSQL store."""
    repo = tmp_path / "repo"
    write_files(
        repo,
        {str(p.relative_to(EXAMPLE)): p.read_bytes() for p in EXAMPLE.rglob("*") if p.is_file()},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STK_")}
    env |= {
        "NO_COLOR": "1",
        "STK_CONFIG_DIR": str(tmp_path / "config"),
        "STK_HUB_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "STK_BRIDGE_TOKENS": ",".join(BRIDGE_TOKENS),
    }
    data = tmp_path / "hub"
    data.mkdir()
    store = None
    if request.param == "postgres":
        name = f"hub_{secrets.token_hex(6)}"
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'create database "{name}"'.encode())
        store = with_database(pg_admin_url, name)
    hub = HubProcess(data, env, store)
    hub.start()
    box = Sandbox(repo, env, hub, pg_admin_url)
    try:
        yield box
    finally:
        hub.stop()
