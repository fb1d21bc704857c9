"""A plugin that breaks its contract stops the Hub at start, with one line naming it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from santokit.core.contracts import Engine, missing_members
from santokit.core.errors import PluginError
from santokit.core.plugins import default_plugins, hookimpl, load_plugins

from .conftest import install_plugin, run_stk
from .e2e import free_port
from .test_plugins import with_path


@pytest.fixture(scope="module")
def dup_engine_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_plugin(tmp_path_factory, "stk_dup_engine")


def test_a_second_plugin_claiming_postgres_stops_hub_serve(
    dup_engine_path: Path, tmp_path: Path
) -> None:
    try:
        done = run_stk(
            "hub",
            "serve",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path),
            env=with_path(dup_engine_path),
            timeout=30,
        )
    except subprocess.TimeoutExpired:  # it served: the duplicate went unnoticed
        pytest.fail("the Hub started with two postgres engines")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "two plugins provide the engine 'postgres'" in lines[0]
    assert "postgres (santokit " in lines[0]
    assert "second_postgres (stk-dup-engine 0.1.0)" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout


class NotAnEngine:
    name = "half"
    display_name = "Half"

    def test(self, url: str) -> object:
        return None


class Misspelt:
    code = "TEAM009"

    def chek(self, change: object, context: object) -> None:
        return None


class BadPlugin:
    def __init__(self, engines: object = None, rules: object = None) -> None:
        self.engines, self.rules = engines, rules

    @hookimpl
    def santokit_engines(self) -> object:
        return self.engines

    @hookimpl
    def santokit_diff_rules(self) -> object:
        return self.rules


def plugins_with(plugin: BadPlugin):  # type: ignore[no-untyped-def]
    plugins = load_plugins()
    plugins.pm.register(plugin, name="bad_plugin")
    return plugins


def test_an_engine_missing_part_of_the_protocol_is_refused_naming_it() -> None:
    assert set(missing_members(NotAnEngine(), Engine)) >= {"plan", "apply", "url_problem"}
    plugins = plugins_with(BadPlugin(engines={"half": NotAnEngine()}))
    with pytest.raises(PluginError) as err:
        plugins.engines()
    message = err.value.message
    assert message.startswith("plugin bad_plugin: engine 'half' (NotAnEngine) lacks ")
    assert "url_problem" in message
    assert "\n" not in message
    assert err.value.code == "PLUGIN_ERROR"


def test_a_rule_with_a_misspelt_check_is_an_error_not_skipped() -> None:
    plugins = plugins_with(BadPlugin(rules=[Misspelt()]))
    with pytest.raises(PluginError, match=r"plugin bad_plugin: rule TEAM009 \(Misspelt\)"):
        plugins.diff_rules()


def test_the_built_in_plugins_keep_their_contracts() -> None:
    plugins = default_plugins()
    plugins.collect()
    engine = plugins.engines()["postgres"]
    assert isinstance(engine, Engine)
    assert (engine.display_name, engine.default_namespace) == ("PostgreSQL", "public")
    assert engine.url_problem("postgresql://u@h/db") is None
    problem = engine.url_problem("mysql://u:s3cret@h/db")
    assert problem is not None
    assert "s3cret" not in problem
    assert plugins.release_store("sqlite:///:memory:") is not None
