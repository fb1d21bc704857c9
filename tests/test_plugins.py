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


def test_plugin_lint_rule_fails_apply_locally_before_any_request(
    test_plugin_path, tmp_path
) -> None:
    """stk apply runs the plugins' rules before it sends anything: pointed at a Hub URL where
    nothing listens, it stops on the rule's finding, the very line stk validate prints. Without
    the plugin the same command does try the Hub, so the test would see a request."""
    from .e2e import free_port

    hub = f"http://127.0.0.1:{free_port()}"  # nothing listens there: any request is refused
    env = {
        "STK_CONFIG_DIR": str(tmp_path / "config"),
        "STK_HUB_URL": hub,
        "STK_TOKEN": "stk_test_token_never_sent",
        "STK_PROJECT": "shop",
        "STK_ENV": "dev",
    }
    args = ("apply", "--ref", "v1", "--only", "schema", "--dry-run", "--dir", str(EXAMPLE))
    finding = "schema/analytics.yml:3:3: tables.events: table 'events' needs a created_at column [TEAM001]"
    validated = run_stk("validate", "--dir", str(EXAMPLE), env=with_path(test_plugin_path))
    assert validated.stdout.splitlines() == [finding]

    refused = run_stk(*args, env=env | with_path(test_plugin_path))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stdout.splitlines() == [finding]
    assert "cannot reach hub" not in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr

    as_json = run_stk(*args, "--json", env=env | with_path(test_plugin_path))
    assert as_json.returncode == 1
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "VALIDATION_FAILED"
    assert [f["code"] for f in error["details"]] == ["TEAM001"]

    sent = run_stk(*args, env=env)  # no plugin: the files pass and the request is made
    assert sent.returncode == 1
    assert f"cannot reach hub at {hub}: connection refused" in sent.stderr
