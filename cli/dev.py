"""``stk dev``: a complete local sandbox in one process tree (product.md, "Defaults").

A Hub on loopback with the SQLite store, a throwaway Postgres (pgserver's binaries) holding one
database per connection the repository's schema uses, a dev operator logged in, and
``.stk/context.json`` pointing at the Hub. Everything lives in ``.stk/dev/`` of the repository and
survives a restart. SIGINT, SIGTERM and SIGHUP (Ctrl-C, a service manager, a closed terminal) all
stop the Hub and the database; ``.stk/dev/lock`` tells a second run from a stale one, so a server
a killed run left behind is stopped instead of breaking the next start. It lives in the CLI, which
may import the Hub to run it in-process; the database server comes from an engine plugin through
``SandboxEngine``, so nothing here knows which database it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shlex
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Any

from santokit.core.contracts import SandboxEngine, SandboxServer, Say
from santokit.core.errors import SantokitError, UsageError
from santokit.core.localhost import port_free, write_private
from santokit.core.plugins import default_plugins
from santokit.hub import auth
from santokit.hub.serve import configure_logging, open_hub

from . import context as ctx
from . import credentials

DEV_EMAIL = "dev@santokit.local"
DEFAULT_CONNECTIONS = ("main",)
PROJECT = "shop"
ENV = "dev"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _lock(dev: Path) -> Iterator[None]:
    """Hold ``.stk/dev/lock`` for the run: the kernel drops it when the process dies, however."""
    path = dev / "lock"
    fh: IO[str] = open(path, "a+")  # noqa: SIM115 - held open for the whole run
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            pid = fh.read().strip() or "?"
            raise UsageError(
                f"another stk dev (pid {pid}) is running in {dev.parent.parent}; stop it first"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fh.close()


def schema_connections(root: Path, say: Say) -> tuple[str, ...]:
    """The connections the repository's schema names, read even from a broken schema.

    A sandbox is where a broken schema gets fixed, so problems only warn; with no schema at all
    the sandbox still offers ``main``.
    """
    from santokit.core.plugins import default_plugins
    from santokit.core.validation import read_snapshot, validate_snapshot

    try:  # with the plugins' rules, so the error count is the one stk validate prints
        result = validate_snapshot(read_snapshot(root), default_plugins().diff_rules())
    except SantokitError as exc:
        say(f"warning: {exc.message}; creating the database main only")
        return DEFAULT_CONNECTIONS
    if not result.ok:
        say(
            f"warning: the schema has {len(result.errors)} error(s) (run stk validate); "
            "databases are made for the connections it names"
        )
    names = sorted(c.name for c in result.schema.connections)
    return tuple(sorted(names, key=lambda n: n != "main")) or DEFAULT_CONNECTIONS


def sandbox_engine() -> SandboxEngine:
    """The installed engine that can run a sandbox server (the first by name if several)."""
    for engine in default_plugins().engines().values():
        if isinstance(engine, SandboxEngine):
            return engine
    raise UsageError("no installed engine can run a sandbox database (stk plugins lists them)")


def _login(hub: Any, hub_url: str, password_file: Path) -> None:
    """Log the dev operator in, and keep its password in a 0600 file for ``stk login``."""
    password = password_file.read_text().strip() if password_file.exists() else ""
    with hub.store.tx() as tx:
        operator = tx.operator_by_email(DEV_EMAIL)
        if operator is None:
            password = password or secrets.token_urlsafe(24)
            role = "owner" if tx.count_operators() == 0 else "admin"
            operator = tx.insert_operator(DEV_EMAIL, auth.hash_password(password), role)
        elif not password or not auth.verify_password(operator["password_hash"], password):
            password = secrets.token_urlsafe(24)  # a sandbox from before the file existed
            tx.set_operator_password(operator["id"], auth.hash_password(password))
        token, digest, expires = auth.new_token()
        tx.insert_session(digest, operator["id"], expires)
        tx.audit("operator.login", DEV_EMAIL, "req_dev")
    write_private(password_file, password + "\n")
    credentials.save_token(hub_url, token, DEV_EMAIL, expires)


def next_steps(hub: Any, root: Path, dev: Path, names: tuple[str, ...], engine: str) -> list[str]:
    """The commands that take this sandbox to an applied release, in order, skipping done ones.

    Each line must work when pasted into a shell started where ``stk dev`` was run.
    """
    steps = []
    if root != Path.cwd().resolve():
        steps.append(f"cd {shlex.quote(os.path.relpath(root, Path.cwd()))}")
    with hub.store.tx() as tx:
        has_project = tx.project(PROJECT) is not None
        has_env = has_project and tx.env(PROJECT, ENV) is not None
    if not has_project:
        steps.append(f"stk project create {PROJECT}")
    steps.append(f"stk context set --project {PROJECT} --env {ENV}")
    if not has_env:
        steps.append(f"stk env create --project {PROJECT} {ENV}")
    for name in names:
        url_file = shlex.quote(os.path.relpath(dev / f"{name}.url", root))
        steps.append(f"stk connections set --name {name} --engine {engine} --db-url - < {url_file}")
    steps.append("stk apply --ref dev")
    return steps


def run_dev(root: Path, port: int, out: Say) -> None:
    """Start everything, print how to use it, serve until a stop signal, then stop everything."""
    if not 0 < port < 65536:
        raise UsageError(f"--port must be 1 to 65535, not {port}")
    dev = root / ".stk" / "dev"
    dev.mkdir(parents=True, exist_ok=True, mode=0o700)
    (dev / ".gitignore").write_text("*\n")
    with _lock(dev):
        if not port_free(port):
            raise UsageError(f"port {port} is in use; pass --port")
        _run_locked(root, dev, port, out)


def _run_locked(root: Path, dev: Path, port: int, out: Say) -> None:
    import uvicorn

    from santokit.hub.app import create_app

    state: dict[str, Any] = {"server": None, "stopping": False}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        server = state["server"]
        if state["stopping"]:
            return
        if server is None:
            raise KeyboardInterrupt  # still starting: unwinds through the finally below
        server.should_exit = True

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    server: SandboxServer | None = None
    try:
        names = schema_connections(root, out)
        configure_logging(dev / "hub.log")
        engine = sandbox_engine()
        server = engine.sandbox(dev)
        for name, url in server.start(names, out).items():
            write_private(dev / f"{name}.url", url + "\n")
        hub = open_hub(f"sqlite:///{dev / 'hub.db'}", dev / "hub")
        hub_url = f"http://127.0.0.1:{port}"
        password_file = dev / "operator.password"
        _login(hub, hub_url, password_file)
        context_file = ctx.save_context(root, {"hubUrl": hub_url, "connection": names[0]})
        rel = lambda p: os.path.relpath(p, Path.cwd())  # noqa: E731
        out(f"Santokit dev sandbox in {rel(dev)}")
        out(
            f"  hub        {hub_url}  (SQLite store {rel(dev / 'hub.db')}, log "
            f"{rel(dev / 'hub.log')})"
        )
        for name in names:
            out(
                f"  {engine.name:<10} {name}: {server.where(name)}  "
                f"(URL in {rel(dev / (name + '.url'))})"
            )
        out(f"  operator   {DEV_EMAIL}, logged in (password in {rel(password_file)})")
        out(f"  context    {rel(context_file)} -> {hub_url}")
        out("In another shell, from here:")
        for step in next_steps(hub, root, dev, names, engine.name):
            out(f"  {step}")
        login = shlex.quote(os.path.relpath(password_file, root))
        out(f"To log in again, from {'there' if root != Path.cwd().resolve() else 'here'}:")
        out("  stk logout")
        out(f"  stk login --email {DEV_EMAIL} --password-stdin < {login}")
        out("Press Ctrl-C to stop the hub and the database.")
        config = uvicorn.Config(
            create_app(hub),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        state["server"] = uvicorn.Server(config)
        with contextlib.suppress(KeyboardInterrupt):
            state["server"].run()
    except KeyboardInterrupt:
        pass
    finally:
        state["stopping"] = True
        try:
            if server is not None:
                server.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        with contextlib.suppress(OSError):  # after SIGHUP the terminal may be gone
            out("stopped the hub and the database")
