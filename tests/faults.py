"""Faults on purpose: a TCP proxy that goes silent, and a Postgres server that stops.

A database that answers nothing is the fault no server-side timeout can end: the kernel still
accepts and acknowledges, nobody replies. Both helpers make exactly that on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


class SilentProxy:
    """A TCP proxy in front of ``upstream`` (host, port).

    With ``forward=False`` it is a tarpit: it accepts every connection and never says a word.
    Otherwise it forwards both ways until ``silence()``, after which every open and new
    connection stays open and whatever is sent is swallowed. With ``after_login`` each
    connection goes silent by itself at its first query (a PostgreSQL ``Q`` or ``P`` message):
    the login succeeds, then nothing answers, the fault only a client-side bound can end.
    """

    def __init__(
        self, upstream: tuple[str, int], *, forward: bool = True, after_login: bool = False
    ) -> None:
        self.upstream = upstream
        self.after_login = after_login
        self.silent = threading.Event()
        if not forward:
            self.silent.set()
        self._stop = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0), backlog=128)
        self._server.settimeout(0.2)
        self.port = int(self._server.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self, database_url: str) -> str:
        """``database_url`` (whose server is the upstream) reached through this proxy."""
        parts = urlsplit(database_url)
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(
            parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host)
        )

    def silence(self) -> None:
        self.silent.set()

    def _keep(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._keep(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        if not self.silent.is_set():
            with contextlib.suppress(OSError):
                upstream = socket.create_connection(self.upstream, timeout=5)
                self._keep(upstream)
        ends = [client] + ([upstream] if upstream else [])
        muted = False
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select(ends, [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if self.after_login and sock is client and data[:1] in (b"Q", b"P"):
                        muted = True
                    other = upstream if sock is client else client
                    if other is not None and not (muted or self.silent.is_set()):
                        other.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._server.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
        self._thread.join(2)

    def __enter__(self) -> SilentProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def upstream_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or "127.0.0.1", parts.port or 5432)


def server_pids(data_dir: Path) -> list[int]:
    """The postmaster of an embedded server and every process it forked."""
    postmaster = int((data_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                    pids.append(int(entry.name))
    return pids


@contextlib.contextmanager
def stopped(data_dir: Path) -> Iterator[None]:
    """SIGSTOP the whole server (sockets stay open, nothing answers); SIGCONT on the way out,
    whatever happened."""
    pids = server_pids(data_dir)
    try:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # a child that just exited
                os.kill(pid, signal.SIGSTOP)
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
