"""Where project, env, hub and connection come from, and how operator tokens are kept (cli.md §1)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import platformdirs
import pytest

from santokit.cli import credentials
from santokit.cli.context import (
    CONTEXT_FILE,
    clear_context,
    find_context_file,
    load_context,
    resolve,
    save_context,
)
from santokit.cli.credentials import forget_token, load_token, save_token, stored
from santokit.core.errors import UsageError

HUB = "http://127.0.0.1:8787"
ENV_VARS = ("STK_PROJECT", "STK_ENV", "STK_HUB_URL", "STK_TOKEN", "STK_CONFIG_DIR")


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No STK_* from the developer's shell, and credentials only under tmp_path."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("STK_CONFIG_DIR", str(tmp_path / "config" / "santokit"))


def write_context(folder: Path, content: object) -> Path:
    path = folder / CONTEXT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else json.dumps(content)
    path.write_text(text, encoding="utf-8")
    return path


# --- resolution -----------------------------------------------------------------------------

CASES = [
    # name, env var, file key, flag value, env value, file value
    ("project", "STK_PROJECT", "project", "p-flag", "p-env", "p-file"),
    ("env", "STK_ENV", "env", "e-flag", "e-env", "e-file"),
    ("hub", "STK_HUB_URL", "hubUrl", "http://flag:1", "http://env:2", "http://file:3"),
]


@pytest.mark.parametrize(("name", "var", "key", "flag", "env", "file"), CASES)
def test_flag_beats_env_beats_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    var: str,
    key: str,
    flag: str,
    env: str,
    file: str,
) -> None:
    write_context(tmp_path, {key: file})
    assert resolve(name, None, tmp_path) == file
    monkeypatch.setenv(var, env)
    assert resolve(name, None, tmp_path) == env
    assert resolve(name, flag, tmp_path) == flag


def test_connection_has_no_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_context(tmp_path, {"connection": "main"})
    monkeypatch.setenv("STK_CONNECTION", "other")
    assert resolve("connection", None, tmp_path) == "main"
    assert resolve("connection", "analytics", tmp_path) == "analytics"


def test_empty_flag_and_env_count_as_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_context(tmp_path, {"project": "shop"})
    monkeypatch.setenv("STK_PROJECT", "")
    assert resolve("project", "", tmp_path) == "shop"


def test_hub_urls_lose_the_trailing_slash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_context(tmp_path, {"hubUrl": "http://file:3/"})
    assert resolve("hub", None, tmp_path) == "http://file:3"
    monkeypatch.setenv("STK_HUB_URL", "https://env.example/")
    assert resolve("hub", None, tmp_path) == "https://env.example"
    assert resolve("hub", "http://flag:1/", tmp_path) == "http://flag:1"


def test_file_is_not_read_when_flag_or_env_gives_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_context(tmp_path, "{ broken")
    assert resolve("project", "shop", tmp_path) == "shop"
    monkeypatch.setenv("STK_ENV", "prod")
    assert resolve("env", None, tmp_path) == "prod"
    with pytest.raises(UsageError):
        resolve("connection", None, tmp_path)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "project",
            "no project given: pass --project or run 'stk context set --project NAME' (or set STK_PROJECT)",
        ),
        (
            "env",
            "no env given: pass --env or run 'stk context set --env NAME' (or set STK_ENV)",
        ),
        (
            "hub",
            "no hub given: pass --hub or run 'stk context set --hub URL' (or set STK_HUB_URL)",
        ),
        (
            "connection",
            "no connection given: pass --connection or run 'stk context set --connection NAME'",
        ),
    ],
)
def test_missing_value_names_the_flag_and_the_context_command(
    tmp_path: Path, name: str, message: str
) -> None:
    write_context(tmp_path, {})
    with pytest.raises(UsageError) as caught:
        resolve(name, None, tmp_path)
    assert caught.value.message == message


def test_missing_value_message_can_name_another_flag(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"^no connection given: pass --name or run 'stk context"):
        resolve("connection", None, tmp_path, option="--name")


def test_unknown_value_name_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown context value 'ref'"):
        resolve("ref", "x", tmp_path)


# --- finding and reading the file -----------------------------------------------------------


def test_nearest_file_up_the_tree_is_found(tmp_path: Path) -> None:
    outer = write_context(tmp_path, {"project": "outer", "env": "dev"})
    inner_root = tmp_path / "a"
    inner = write_context(inner_root, {"project": "inner"})
    deep = inner_root / "b" / "c"
    deep.mkdir(parents=True)
    assert find_context_file(deep) == inner.resolve()
    assert find_context_file(tmp_path) == outer.resolve()
    # the nearest file wins whole: values are not merged across files
    assert load_context(deep) == {"project": "inner"}
    assert resolve("project", None, deep) == "inner"


def test_a_stk_folder_without_the_file_is_skipped(tmp_path: Path) -> None:
    outer = write_context(tmp_path, {"project": "outer"})
    (tmp_path / "sub" / ".stk").mkdir(parents=True)
    assert find_context_file(tmp_path / "sub") == outer.resolve()


def test_no_file_means_empty_context(tmp_path: Path) -> None:
    assert find_context_file(tmp_path) is None
    assert load_context(tmp_path) == {}
    assert clear_context(tmp_path) is None


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    path = write_context(tmp_path, '{"project": ')
    with pytest.raises(UsageError) as caught:
        load_context(tmp_path)
    message = caught.value.message
    assert str(path.resolve()) in message
    assert "not valid JSON" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ({"project": "My Shop"}, 'project: "My Shop" is not valid, expected lowercase letters'),
        ({"env": 3}, "env: 3 is not of type 'string'"),
        ({"hubUrl": "ftp://hub"}, 'hubUrl: "ftp://hub" is not valid, expected base URL'),
        ({"connection": "stk_main"}, "connection: 'stk_main' starts with 'stk_'"),
        ({"connection": "select"}, "connection: 'select' is a reserved word in PostgreSQL"),
        ({"projet": "shop"}, "'projet' was unexpected"),
        (["shop"], "(root): ['shop'] is not of type 'object'"),
    ],
)
def test_schema_violation_names_the_file_and_the_problem(
    tmp_path: Path, content: object, problem: str
) -> None:
    path = write_context(tmp_path, content)
    with pytest.raises(UsageError) as caught:
        load_context(tmp_path)
    message = caught.value.message
    assert message.startswith(f"{path.resolve()}: ")
    assert problem in message
    assert "\n" not in message


# --- writing the file -----------------------------------------------------------------------


def test_save_creates_the_file_in_start(tmp_path: Path) -> None:
    path = save_context(tmp_path, {"project": "shop", "hubUrl": HUB + "/"})
    assert path == (tmp_path / CONTEXT_FILE).resolve()
    assert json.loads(path.read_text()) == {"project": "shop", "hubUrl": HUB}


def test_save_merges_and_none_removes(tmp_path: Path) -> None:
    write_context(tmp_path, {"project": "shop", "env": "dev", "connection": "main"})
    sub = tmp_path / "src"
    sub.mkdir()
    path = save_context(sub, {"env": "prod", "connection": None, "hubUrl": HUB})
    assert path == (tmp_path / CONTEXT_FILE).resolve()
    assert load_context(sub) == {"project": "shop", "env": "prod", "hubUrl": HUB}
    assert not (sub / ".stk").exists()
    assert [p.name for p in path.parent.iterdir()] == ["context.json"]  # no temp file left


def test_save_goes_to_the_repo_root_not_a_new_stk_folder(tmp_path: Path) -> None:
    (tmp_path / ".stk").mkdir()
    sub = tmp_path / "schema"
    sub.mkdir()
    path = save_context(sub, {"project": "shop"})
    assert path == (tmp_path / CONTEXT_FILE).resolve()
    assert not (sub / ".stk").exists()


def test_invalid_update_writes_nothing(tmp_path: Path) -> None:
    path = write_context(tmp_path, {"project": "shop"})
    with pytest.raises(UsageError, match=r"^not saved to .*context\.json: env: \"Prod\" is not"):
        save_context(tmp_path, {"env": "Prod"})
    assert json.loads(path.read_text()) == {"project": "shop"}


def test_clear_deletes_the_nearest_file(tmp_path: Path) -> None:
    path = write_context(tmp_path, {"project": "shop"})
    (tmp_path / "sub").mkdir()
    assert clear_context(tmp_path / "sub") == path.resolve()
    assert not path.exists()
    assert (tmp_path / ".stk").is_dir()


# --- credentials ----------------------------------------------------------------------------


def test_credentials_file_is_private(tmp_path: Path) -> None:
    path = save_token(HUB, "tok-1", "ops@example.com", "2030-01-01T00:00:00Z")
    assert path == tmp_path / "config" / "santokit" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    save_token(HUB, "tok-2", "ops@example.com", "2030-01-02T00:00:00Z")  # replaced, still private
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["credentials.json"]


def test_default_location_is_the_user_config_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STK_CONFIG_DIR")
    expected = Path(platformdirs.user_config_dir("santokit")) / "credentials.json"
    assert credentials.credentials_path() == expected


def test_tokens_are_per_hub_url() -> None:
    assert load_token(HUB) is None
    save_token(HUB, "tok-local", "a@example.com", "2030-01-01T00:00:00Z")
    save_token("https://hub.example/", "tok-remote", "b@example.com", "2031-01-01T00:00:00Z")
    assert load_token(HUB) == "tok-local"
    assert load_token(HUB + "/") == "tok-local"
    assert load_token("https://hub.example") == "tok-remote"
    assert load_token("http://elsewhere:1") is None
    assert stored("https://hub.example") == {
        "token": "tok-remote",
        "email": "b@example.com",
        "expiresAt": "2031-01-01T00:00:00Z",
    }
    assert stored("http://elsewhere:1") is None


def test_stk_token_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    save_token(HUB, "tok-stored", "a@example.com", "2030-01-01T00:00:00Z")
    monkeypatch.setenv("STK_TOKEN", "tok-ci")
    assert load_token(HUB) == "tok-ci"
    assert load_token("http://never-logged-in:1") == "tok-ci"
    assert stored(HUB) is not None
    assert stored(HUB)["token"] == "tok-stored"


def test_forget_removes_only_that_hub() -> None:
    save_token(HUB, "tok-local", "a@example.com", "2030-01-01T00:00:00Z")
    save_token("https://hub.example", "tok-remote", "b@example.com", "2031-01-01T00:00:00Z")
    assert forget_token(HUB + "/") is True
    assert forget_token(HUB) is False
    assert load_token(HUB) is None
    assert load_token("https://hub.example") == "tok-remote"


def test_forget_without_a_file_is_false(tmp_path: Path) -> None:
    assert forget_token(HUB) is False
    assert not (tmp_path / "config").exists()


@pytest.mark.parametrize(
    "text",
    [
        '{"hubs": {"http://127.0.0.1:8787": {"token": "s3cret-TOKEN", ',
        '{"hubs": {"http://127.0.0.1:8787": {"token": ["s3cret-TOKEN"]}}}',
        '{"hubs": ["s3cret-TOKEN"]}',
        '"s3cret-TOKEN"',
    ],
)
def test_corrupt_credentials_file_is_named_but_never_quoted(tmp_path: Path, text: str) -> None:
    path = credentials.credentials_path()
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    for call in (lambda: load_token(HUB), lambda: save_token(HUB, "t", "e", "x")):
        with pytest.raises(UsageError) as caught:
            call()
        message = caught.value.message
        assert str(path) in message
        assert "s3cret" not in message
        assert "s3cret" not in str(caught.value.__cause__ or "")
    assert path.read_text(encoding="utf-8") == text  # a failed login does not clobber it
