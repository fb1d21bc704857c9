"""``stk dev``: a complete local sandbox in one process tree (product.md, "Defaults").

A Hub on loopback with the SQLite store, a throwaway Postgres (pgserver's binaries) holding the
``main`` and ``analytics`` databases, a dev operator logged in, and ``.stk/context.json`` pointing
at the Hub. Everything lives in ``.stk/dev/`` of the repository and survives a restart; Ctrl-C
stops the Hub and the database. The embedded server is tooling, not an engine: it is the one
place the Hub package reaches a plugin module directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
from pathlib import Path
from typing import Any

from santokit.cli import context as ctx
from santokit.cli import credentials

from . import auth
from .serve import configure_logging, open_hub

DEV_EMAIL = "dev@santokit.local"
DATABASES = ("main", "analytics")


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def _postgres(dev: Path) -> tuple[Any, dict[str, str]]:
    import psycopg

    from santokit.plugins.postgres.embedded import EmbeddedPostgres

    settings_file = dev / "postgres.json"
    saved = json.loads(settings_file.read_text()) if settings_file.exists() else {}
    port = saved.get("port") if saved.get("port") and _port_free(saved["port"]) else None
    server = EmbeddedPostgres(dev / "postgres", port=port, password=saved.get("password"))
    server.start()
    _private(settings_file, json.dumps({"port": server.port, "password": server.password}))
    urls = {}
    with psycopg.connect(server.url(), autocommit=True) as conn:
        have = {r[0] for r in conn.execute("select datname from pg_database")}
        for name in DATABASES:
            if name not in have:
                conn.execute(f'create database "{name}"'.encode())
            urls[name] = server.url(name)
            _private(dev / f"{name}.url", urls[name] + "\n")
    return server, urls


def _login(hub: Any, hub_url: str) -> None:
    with hub.store.tx() as tx:
        operator = tx.operator_by_email(DEV_EMAIL)
        if operator is None:
            role = "owner" if tx.count_operators() == 0 else "admin"
            operator = tx.insert_operator(
                DEV_EMAIL, auth.hash_password(secrets.token_urlsafe(24)), role
            )
        token, digest, expires = auth.new_token()
        tx.insert_session(digest, operator["id"], expires)
        tx.audit("operator.login", DEV_EMAIL, "req_dev")
    credentials.save_token(hub_url, token, DEV_EMAIL, expires)


def run_dev(root: Path, port: int, out: Any) -> None:
    """Start everything, print how to use it, serve until interrupted, then stop everything."""
    import uvicorn

    from .app import create_app

    dev = root / ".stk" / "dev"
    dev.mkdir(parents=True, exist_ok=True, mode=0o700)
    (dev / ".gitignore").write_text("*\n")
    if not _port_free(port):
        raise SystemExit(f"error: port {port} is in use; pass --port")
    configure_logging(dev / "hub.log")
    server, _urls = _postgres(dev)
    try:
        hub = open_hub(f"sqlite:///{dev / 'hub.db'}", dev / "hub")
        hub_url = f"http://127.0.0.1:{port}"
        _login(hub, hub_url)
        context_file = ctx.save_context(root, {"hubUrl": hub_url, "connection": "main"})
        rel = lambda p: os.path.relpath(p, Path.cwd())  # noqa: E731
        out(f"Santokit dev sandbox in {rel(dev)}")
        out(
            f"  hub        {hub_url}  (SQLite store {rel(dev / 'hub.db')}, log "
            f"{rel(dev / 'hub.log')})"
        )
        for name in DATABASES:
            out(
                f"  postgres   {name}: 127.0.0.1:{server.port}/{name}  "
                f"(URL in {rel(dev / (name + '.url'))})"
            )
        out(f"  operator   {DEV_EMAIL}, logged in")
        out(f"  context    {rel(context_file)} -> {hub_url}")
        out("In another shell, for example:")
        out("  stk project create shop")
        out("  stk context set --project shop --env dev")
        out("  stk env create --project shop dev")
        out(
            f"  stk connections set --name main --engine postgres --db-url - < "
            f"{rel(dev / 'main.url')}"
        )
        out("  stk apply --ref dev")
        out("Press Ctrl-C to stop the hub and the database.")
        config = uvicorn.Config(
            create_app(hub),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.Server(config).run()
    finally:
        server.stop()
        out("stopped the hub and the database")
