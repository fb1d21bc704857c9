"""``stk dev``: one command gives a working sandbox whose printed steps work when pasted; every
stop signal stops its Postgres, and a killed run leaves nothing that breaks the next one."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .conftest import EXAMPLE, STK, run_stk, write_files
from .e2e import free_port


def _example(root: Path) -> Path:
    files = {str(p.relative_to(EXAMPLE)): p.read_bytes() for p in EXAMPLE.rglob("*") if p.is_file()}
    return write_files(root, files)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STK_")}
    env["PATH"] = f"{STK.parent}{os.pathsep}{env.get('PATH', '')}"
    return env | {"NO_COLOR": "1", "STK_CONFIG_DIR": str(tmp_path / "config")}


class Dev:
    """One real ``stk dev`` process, its banner read up to the line saying how to stop it."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen(
            [str(STK), "dev", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines = []
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            lines.append(line)
            if "Press Ctrl-C" in line or not line:
                break
        self.banner = "".join(lines)
        assert "Press Ctrl-C" in self.banner, self.banner

    def steps(self, after: str, before: str) -> list[str]:
        block = self.banner.split(after, 1)[1].split(before, 1)[0]
        return [line.strip() for line in block.splitlines()[1:] if line.strip()]

    def stop(self, sig: signal.Signals) -> str:
        self.proc.send_signal(sig)
        rest = self.proc.communicate(timeout=30)[0]
        assert self.proc.returncode == 0, rest
        assert "stopped the hub and the database" in rest, rest
        assert "Traceback" not in rest
        return rest


def _postmaster(repo: Path) -> int:
    return int((repo / ".stk/dev/postgres/pgdata/postmaster.pid").read_text().split("\n")[0])


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_pasted_next_steps_reach_a_release_and_login_works(tmp_path: Path) -> None:
    repo = _example(tmp_path / "repo")
    env = _env(tmp_path)
    port = free_port()
    started = datetime.now(UTC)
    dev = Dev(tmp_path, env, "--dir", "repo", "--port", str(port))  # run from outside the repo
    text = dev.banner
    try:
        assert "postgres   main: 127.0.0.1:" in text
        assert "postgres   analytics:" in text
        steps = dev.steps("In another shell", "To log in again")
        assert steps[0] == "cd repo"
        for name in ("main", "analytics"):
            assert (
                f"stk connections set --name {name} --engine postgres --db-url - "
                f"< .stk/dev/{name}.url" in steps
            )
        assert steps[-1] == "stk apply --ref dev"
        # the README's quickstart lists exactly these steps (after its own activate-and-cd line)
        readme = (Path(__file__).parent.parent / "README.md").read_text()
        quickstart = readme.split("## Quickstart", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
        assert quickstart.splitlines()[1:] == steps[1:]
        login = dev.steps("To log in again", "Press Ctrl-C")
        assert login[0] == "stk logout"
        assert login[1].startswith("stk login --email")
        # pasted in order into one shell, as an operator would
        done = subprocess.run(
            ["bash", "-e", "-c", "\n".join([*steps, *login, "stk whoami"])],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "releaseId=rel_" in done.stdout
        assert "logged out" in done.stdout
        assert "logged in to" in done.stdout
        assert done.stdout.splitlines()[-2].startswith("dev@santokit.local")

        # every hub log line carries when it happened, in UTC (ISO 8601 with Z)
        logged = [json.loads(x) for x in (repo / ".stk/dev/hub.log").read_text().splitlines()]
        assert logged
        for entry in logged:
            at = datetime.strptime(entry["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            assert started - timedelta(seconds=1) <= at <= datetime.now(UTC), entry

        pw_file = repo / ".stk/dev/operator.password"
        assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
        password = pw_file.read_text().strip()
        assert len(password) >= 16
        assert password not in text
        pg_password = (repo / ".stk" / "dev" / "postgres.json").read_text()
        assert pg_password.split('"password": "')[1].split('"')[0] not in text

        # a second run in the same repo, and a run on a taken port: one line, exit 2
        again = run_stk("dev", "--port", str(free_port()), cwd=repo, env=env, inherit=False)
        assert again.returncode == 2, again.stdout + again.stderr
        assert again.stderr.startswith("error: another stk dev (pid ")
        assert len(again.stderr.strip().splitlines()) == 1
        taken = run_stk(
            "dev", "--dir", str(tmp_path / "other"), "--port", str(port), env=env, inherit=False
        )
        assert taken.returncode == 2, taken.stdout + taken.stderr
        assert taken.stderr.strip() == f"error: port {port} is in use; pass --port"
        bad = run_stk(
            "dev", "--dir", str(tmp_path / "other"), "--port", "70000", env=env, inherit=False
        )
        assert bad.returncode == 2
        assert bad.stderr.strip() == "error: --port must be 1 to 65535, not 70000"
        pg_pid = _postmaster(repo)
        pg_port = int(text.split("postgres   main: 127.0.0.1:")[1].split("/")[0])
    finally:
        dev.stop(signal.SIGINT)
    assert _gone(pg_pid)
    assert not _listening(port)
    assert not _listening(pg_port)


def test_every_stop_signal_stops_postgres_and_a_killed_run_is_cleaned(tmp_path: Path) -> None:
    repo = _example(tmp_path / "repo")
    broken = repo / "schema" / "analytics.yml"
    broken.write_text(broken.read_text().replace("type: json", "type: jsonn"))
    env = _env(tmp_path)
    port = free_port()

    first = Dev(repo, env, "--port", str(port))
    assert "warning: the schema has 1 error(s)" in first.banner  # still a sandbox
    assert "postgres   analytics:" in first.banner
    assert "cd " not in first.banner  # run from the repo root: no cd to paste
    for sig in (signal.SIGTERM, signal.SIGHUP):
        dev = first if sig == signal.SIGTERM else Dev(repo, env, "--port", str(port))
        pid = _postmaster(repo)
        dev.stop(sig)
        assert _gone(pid), f"postgres left running after {sig.name}"

    killed = Dev(repo, env, "--port", str(port))
    stale = _postmaster(repo)
    killed.proc.kill()
    killed.proc.wait(timeout=10)
    assert not _gone(stale)  # the database outlived its stk dev

    after = Dev(repo, env, "--port", str(port))
    try:
        assert f"stopped a PostgreSQL (pid {stale}) an earlier stk dev left running" in after.banner
        assert _gone(stale)
        who = run_stk("whoami", cwd=repo, env=env, inherit=False)
        assert who.returncode == 0, who.stderr
        assert who.stdout.startswith("dev@santokit.local")
    finally:
        after.stop(signal.SIGINT)
