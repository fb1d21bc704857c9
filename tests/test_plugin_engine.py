"""A third-party engine (tests/plugin_pkgs/stk_fake_engine, a database in a JSON file) is found
through its entry point and driven by the real Hub through the ``Engine`` contract alone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import install_plugin, run_stk, write_files
from .e2e import PASSWORD, hub_with_operator

SCHEMA = """version: 1
tables:
  notes:
    connection: main
    id: { name: note_id, generate: client, type: bigint }
    columns:
      body: { type: string, nullable: false }
"""


@pytest.fixture(scope="module")
def fake_engine_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_plugin(tmp_path_factory, "stk_fake_engine")


def test_the_hub_drives_a_fake_engine_through_the_contract(
    fake_engine_path: Path, tmp_path: Path
) -> None:
    path = os.pathsep.join(filter(None, [str(fake_engine_path), os.environ.get("PYTHONPATH")]))
    data = tmp_path / "hub"
    data.mkdir()
    hub = hub_with_operator(data, PYTHONPATH=path)
    repo = write_files(tmp_path / "repo", {"schema/main.yaml": SCHEMA})
    env = {
        **hub.env,
        "NO_COLOR": "1",
        "STK_CONFIG_DIR": str(tmp_path / "config"),
        "PYTHONPATH": path,
    }
    db = tmp_path / "db.json"

    def stk(*args: str, stdin: str | None = None) -> str:
        done = run_stk(*args, cwd=repo, env=env, stdin=stdin, inherit=False, timeout=120)
        assert done.returncode == 0, f"stk {' '.join(args)}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    try:
        stk("context", "set", "--hub", hub.url, "--project", "shop", "--env", "dev")
        stk("login", "--email", "ops@example.com", "--password-stdin", stdin=PASSWORD + "\n")
        stk("project", "create", "shop")
        stk("env", "create", "--project", "shop", "dev")
        # two engines installed: the name is needed; the namespace is the engine's default
        row = json.loads(
            stk(
                "connections",
                "set",
                "--name",
                "main",
                "--engine",
                "fake",
                "--db-url",
                f"fakedb://{db}",
                "--json",
            )
        )
        assert (row["engine"], row["schema"]) == ("fake", "main")
        assert stk("connections", "test", "--name", "main").strip() == (
            "ok: main reached (FakeDB 1.0, 0.1 ms)"
        )
        refused = run_stk(
            "connections",
            "set",
            "--name",
            "other",
            "--engine",
            "fake",
            "--db-url",
            "postgresql://u@h/db",
            cwd=repo,
            env=env,
            inherit=False,
        )
        assert refused.returncode == 1
        assert "dbUrl must be a fakedb:/// URL" in refused.stderr

        dry = json.loads(stk("apply", "--ref", "r1", "--dry-run", "--json"))
        assert dry["releaseId"] is None
        assert not db.exists()  # a dry run wrote nothing
        done = json.loads(stk("apply", "--ref", "r1", "--json"))
        assert done["releaseId"]
        stored = json.loads(db.read_text())
        assert set(stored["tables"]["main"]) == {"notes"}
        assert stored["records"]["shop/dev/main"]["ref"] == "r1"
        calls = (tmp_path / "db.json.calls").read_text().split()
        assert "apply" in calls
        assert "applied_record" in calls
        again = json.loads(stk("apply", "--ref", "r2", "--json"))
        assert again["reused"] is True  # nothing changed: the same release
    finally:
        hub.stop()
