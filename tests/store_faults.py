"""Hub stores that fail on purpose: a SQLite store on a tiny tmpfs filled up, a PostgreSQL store
turned read-only. Real faults of the real files and servers, switched on and off by a test."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest


@dataclass
class FullDisk:
    """A tmpfs of ``size`` at ``root``: ``fill()`` takes every free byte, ``free()`` gives
    them back. Reads of files on it keep working; anything that must grow fails with ENOSPC."""

    root: Path
    filler: Path

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_CREAT | os.O_WRONLY | os.O_APPEND)
        try:
            for size in (65536, 512):  # big steps, then what is left byte-sized
                with contextlib.suppress(OSError):
                    while os.write(fd, b"\0" * size):
                        pass
        finally:
            os.close(fd)
        fd = os.open(self.root / "probe", os.O_CREAT | os.O_WRONLY)
        try:
            with pytest.raises(OSError, match="No space left") as caught:
                os.write(fd, b"\0" * 4096)
            assert caught.value.errno == errno.ENOSPC
        finally:
            os.close(fd)
            (self.root / "probe").unlink()

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@contextlib.contextmanager
def tiny_tmpfs(root: Path, size: str = "4m") -> Iterator[FullDisk]:
    """Mount a tmpfs at ``root`` (needs root; the test is skipped where mounting is refused)."""
    root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield FullDisk(root, root / "filler")
    finally:
        subprocess.run(["umount", "-l", str(root)], capture_output=True, check=False)


def _terminate(admin_url: str, database: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = %s and pid <> pg_backend_pid()",
            (database,),
        )


def pg_store_read_only(admin_url: str, database: str, read_only: bool) -> None:
    """Make every new session of ``database`` read-only (or writable again) and end the
    current ones, so the Hub's pool reconnects into the new setting."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        setting = "set default_transaction_read_only = on" if read_only else "reset all"
        conn.execute(f'alter database "{database}" {setting}'.encode())
    _terminate(admin_url, database)
