"""Shared helpers: repositories in temp folders, the real ``stk`` console script, plugins."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests are judged by their examples, never by the clock: on a shared 2-core machine a
# slow example is not a failure. HYPOTHESIS_PROFILE=ci-thorough asks for more examples.
settings.register_profile(
    "santokit", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("ci-thorough", parent=settings.get_profile("santokit"), max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "santokit"))

TESTS = Path(__file__).parent
EXAMPLE = TESTS / "fixtures" / "example"
STK = Path(sysconfig.get_path("scripts")) / "stk"


def write_files(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Callable[[Mapping[str, str | bytes]], Path]:
    """Make a repository folder holding the given files (paths relative to its root)."""
    return lambda files: write_files(tmp_path / "repo", files)


def run_stk(
    *args: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    inherit: bool = True,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``stk`` console script for real.

    With ``inherit`` the test process's environment is the base (``NO_COLOR`` set); without it
    ``env`` is the whole environment, as a sandbox that dropped every ``STK_*`` variable wants.
    """
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})} if inherit else dict(env or {})
    return subprocess.run(
        [str(STK), *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def test_plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/plugin_pkgs/stk_test_plugin (team lint and change rules), pip-installed."""
    return install_plugin(tmp_path_factory, "stk_test_plugin")


@pytest.fixture(scope="session")
def rls_plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/plugin_pkgs/stk_rls_plugin (a second permission compiler), pip-installed."""
    return install_plugin(tmp_path_factory, "stk_rls_plugin")


def install_plugin(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """Install a package of tests/plugin_pkgs with pip into a folder to put on PYTHONPATH."""
    target = tmp_path_factory.mktemp("plugins")
    source = tmp_path_factory.mktemp("plugin-src") / name
    shutil.copytree(
        TESTS / "plugin_pkgs" / name,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    return target


pytest_plugins = ["tests.pg"]
pytest_plugins += ["tests.e2e"]
