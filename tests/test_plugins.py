"""Plugins are discovered through the ``santokit`` entry-point group, for real."""

from __future__ import annotations

import json
import os

from .conftest import EXAMPLE, run_stk


def with_path(path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(path), os.environ.get("PYTHONPATH")]))}


def test_third_party_plugin_is_listed_with_its_version_and_hooks(test_plugin_path) -> None:
    result = run_stk("plugins", "--json", env=with_path(test_plugin_path))
    assert result.returncode == 0, result.stderr
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    mine = plugins["require_created_at"]
    assert mine["distribution"] == "stk-test-plugin"
    assert mine["version"] == "0.3.1"
    assert mine["hooks"] == ["santokit_diff_rules"]
    assert mine["error"] is None


def test_plugin_lint_rule_takes_effect_in_validate(test_plugin_path) -> None:
    result = run_stk("validate", "--dir", str(EXAMPLE), env=with_path(test_plugin_path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "schema/analytics.yml:3:3: tables.events: table 'events' needs a created_at column [TEAM001]",
    ]


def test_without_the_plugin_the_example_is_valid() -> None:
    result = run_stk("validate", "--dir", str(EXAMPLE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "require_created_at" not in run_stk("plugins").stdout


def test_a_broken_plugin_is_reported_not_fatal(tmp_path) -> None:
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[santokit]\nbroken = broken_plugin_missing_module\n")
    listed = run_stk("plugins", env=with_path(tmp_path))
    assert listed.returncode == 1
    assert "broken" in listed.stdout
    assert "failed to load: ModuleNotFoundError" in listed.stdout
    assert "Traceback" not in listed.stdout + listed.stderr
    # validate still works: a broken plugin contributes nothing
    assert run_stk("validate", "--dir", str(EXAMPLE), env=with_path(tmp_path)).returncode == 0
