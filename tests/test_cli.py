"""``stk`` as an operator runs it: exit codes, output streams, --json, --dir and the context root."""

from __future__ import annotations

import json
import shutil

from santokit.core import __version__

from .conftest import EXAMPLE, run_stk


def test_example_repo_is_valid() -> None:
    result = run_stk("validate", "--dir", str(EXAMPLE))
    assert result.returncode == 0
    assert result.stdout.startswith("ok: 3 tables on 2 connections, 3 files valid")
    assert result.stderr == ""


def test_json_output_is_one_document(tmp_path) -> None:
    result = run_stk("validate", "--dir", str(EXAMPLE), "--json")
    doc = json.loads(result.stdout)
    assert doc["ok"] is True
    assert doc["schema"]["tables"] == 3
    assert doc["schema"]["connections"] == ["analytics", "main"]
    assert doc["schema"]["digest"].startswith("sha256:")


def test_findings_go_to_stdout_and_summary_to_stderr(repo) -> None:
    root = repo(
        {
            "schema/a.yaml": "version: 1\ntables:\n  users:\n    connection: main\n"
            "    columns:\n      a: { type: strin }\n"
        }
    )
    result = run_stk("validate", "--dir", str(root))
    assert result.returncode == 1
    assert result.stdout.startswith(
        "schema/a.yaml:6:18: tables.users.columns.a.type: must be one of"
    )
    assert "1 problem found" in result.stderr


def test_repo_root_is_found_from_a_subfolder_through_stk_context(tmp_path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLE, root)
    (root / ".stk").mkdir()
    (root / "deep" / "er").mkdir(parents=True)
    result = run_stk("validate", cwd=root / "deep" / "er")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_schema_folder_is_a_usage_error(tmp_path) -> None:
    result = run_stk("validate", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no schema/ folder in")
    assert "Traceback" not in result.stderr


def test_empty_schema_folder_is_a_usage_error(tmp_path) -> None:
    (tmp_path / "schema").mkdir()
    result = run_stk("validate", "--dir", str(tmp_path))
    assert result.returncode == 2
    assert "holds no *.yaml or *.yml file" in result.stderr


def test_bad_flag_is_exit_2() -> None:
    assert run_stk("validate", "--nope").returncode == 2


def test_version_and_help_have_examples() -> None:
    assert __version__ in run_stk("--version").stdout
    for command in ("validate", "plugins"):
        help_text = run_stk(command, "--help").stdout
        assert f"Example: stk {command}" in help_text
