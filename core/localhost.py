"""Small facts about this machine that the local sandbox (``stk dev``) and engines' sandbox
servers both need: whether a loopback port is free, and a file only its owner can read."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def port_free(port: int) -> bool:
    """Whether ``port`` on 127.0.0.1 can be bound now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, also when the file already exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file that already exists
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
