"""``stk dev``: one command gives a working sandbox; Ctrl-C stops all of it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .conftest import EXAMPLE, STK, run_stk, write_files
from .e2e import free_port


def test_stk_dev_runs_flow_01_and_stops_cleanly(tmp_path: Path) -> None:
    repo = write_files(
        tmp_path / "repo",
        {str(p.relative_to(EXAMPLE)): p.read_bytes() for p in EXAMPLE.rglob("*") if p.is_file()},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STK_")}
    env |= {"NO_COLOR": "1", "STK_CONFIG_DIR": str(tmp_path / "config")}
    port = free_port()
    proc = subprocess.Popen(
        [str(STK), "dev", "--port", str(port)],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = []
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            banner.append(line)
            if "Press Ctrl-C" in line or not line:
                break
        text = "".join(banner)
        assert "Press Ctrl-C" in text, text
        pg_port = int(text.split("postgres   main: 127.0.0.1:")[1].split("/")[0])

        def stk(*args: str, stdin: str | None = None) -> str:
            done = run_stk(*args, cwd=repo, env=env, stdin=stdin, inherit=False)
            assert done.returncode == 0, f"stk {' '.join(args)}: {done.stdout}{done.stderr}"
            return done.stdout

        assert stk("whoami").startswith("dev@santokit.local")
        stk("project", "create", "shop")
        stk("context", "set", "--project", "shop", "--env", "dev")
        stk("env", "create", "--project", "shop", "dev")
        for name in ("main", "analytics"):
            url = (repo / ".stk" / "dev" / f"{name}.url").read_text()
            stk(
                "connections",
                "set",
                "--name",
                name,
                "--engine",
                "postgres",
                "--db-url",
                "-",
                stdin=url,
            )
        assert stk("apply", "--ref", "dev").splitlines()[-1].startswith("releaseId=rel_")
        password = (repo / ".stk" / "dev" / "postgres.json").read_text()
        assert password.split('"password": "')[1].split('"')[0] not in text
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, rest
    assert "stopped the hub and the database" in rest
    assert "Traceback" not in rest
    for p in (port, pg_port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", p)) != 0  # nothing listens any more
