"""What ``stk`` prints, through the real console script: whole ids at any width and when piped,
one ``error:`` line and one JSON document on failure, exit codes (cli.md §3), a fast start."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from santokit.cli.app import COMMANDS, build_app
from santokit.cli.output import Column, fit_columns

from .conftest import EXAMPLE, STK, run_stk
from .e2e import Sandbox
from .test_e2e_flow01 import bootstrap

RELEASE_ID = re.compile(r"\brel_[0-9A-HJKMNP-TV-Z]{26}\b")


def in_terminal(
    args: tuple[str, ...], env: dict[str, str], cwd: Path, columns: int = 80
) -> tuple[int, str, str]:
    """Run ``stk`` with stdout on a pseudo-terminal ``columns`` wide, as an operator's tmux."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "STK_FORCE_TERMINAL")}
    proc = subprocess.Popen(
        [str(STK), *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        err = proc.communicate(timeout=30)[1]
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, b"".join(chunks).decode().replace("\r\n", "\n"), err.decode()


# -- without a Hub ------------------------------------------------------------------------------
def test_version_help_and_validate_load_only_what_they_use() -> None:
    """stk --version and --help load neither cyclopts, rich nor httpx; validate loads no httpx."""
    probe = (
        "import io, sys, contextlib\n"
        "from santokit.cli.app import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(sys.argv[1:]) == 0\n"
        "print(' '.join(m for m in ('cyclopts', 'rich', 'httpx', 'jsonschema') "
        "if m in sys.modules))\n"
    )

    def loaded(*args: str) -> set[str]:
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True
        )
        return set(done.stdout.split())

    assert loaded("--version") == set()
    assert loaded("--help") == set()
    assert "httpx" not in loaded("validate", "--dir", str(EXAMPLE))


def test_version_is_the_installed_distributions() -> None:
    from importlib.metadata import version

    from santokit.core import __version__

    assert __version__ == version("santokit")  # pyproject reads core/__init__.py
    assert run_stk("--version").stdout == f"{__version__}\n"


def test_overview_lists_every_command_with_its_own_first_line() -> None:
    """stk --help is written from COMMANDS without importing them: it must say what they say."""
    app = build_app()
    registered = {name for name in app if not name.startswith("-")}
    assert registered == {name for name, _, _ in COMMANDS}
    for name, _, line in COMMANDS:
        sub = app[name]
        own = sub.help if sub.default_command is None else sub.default_command.__doc__
        assert (own or "").strip().splitlines()[0] == line, name
    overview = run_stk("--help")
    assert overview.returncode == 0
    for name, _, _ in COMMANDS:
        assert re.search(rf"^  {name} ", overview.stdout, re.M), name
    assert run_stk().stdout == overview.stdout  # bare stk shows the same page


def _commands(app, path):  # type: ignore[no-untyped-def]
    for name in app:
        if name.startswith("-"):
            continue
        sub = app[name]
        if sub.default_command is not None:
            yield [*path, name], sub
        yield from _commands(sub, [*path, name])


def test_every_option_has_a_description() -> None:
    missing = []
    for path, sub in _commands(build_app(), []):
        if path == ["dev"]:  # stk dev is being reworked elsewhere (issue 12.2)
            continue
        for argument in sub.assemble_argument_collection(parse_docstring=True):
            if argument.show and not (argument.parameter.help or "").strip():
                missing.append(f"stk {' '.join(path)} {argument.name}")
    assert missing == []
    ref_help = re.sub(r"[│\s]+", " ", run_stk("apply", "--help").stdout)  # the panel's wrapping
    assert "a label for the snapshot taken from the working tree" in ref_help


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("release", "list", "--nope"), "error: Unknown option: --nope."),
        (("validate", "--dir"), 'error: Command "validate" parameter --dir requires an argument.'),
        (("nosuchcommand",), 'error: Unknown command "nosuchcommand".'),
        (("release", "list", "--limit", "0"), "error: --limit must be between 1 and 1000, not 0"),
        (
            ("apply", "--ref", "v1", "--only", "schma"),
            "error: --only: unknown step 'schma'; steps are schema, permissions, release",
        ),
    ],
)
def test_usage_mistakes_are_one_error_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    """No boxed panel, no help page: one line on stderr; with --json one document on stdout.
    No Hub is configured: the mistakes are caught before anything is resolved or sent."""
    plain = run_stk(*args, cwd=tmp_path)
    assert (plain.returncode, plain.stdout) == (2, "")
    assert plain.stderr.startswith(message)
    assert len(plain.stderr.splitlines()) == 1
    assert "╭" not in plain.stderr
    as_json = run_stk(*args, "--json", cwd=tmp_path)
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["error"]["message"] in plain.stderr


def test_a_mistyped_url_is_quoted_back_redacted(tmp_path: Path) -> None:
    url = "postgresql://app:s3cret-pw@db.example:5432/app"
    for args in (("release", "list", "--limit", url), ("connections", "set", "--name", "m", url)):
        run = run_stk(*args, cwd=tmp_path)
        assert run.returncode == 2
        assert "s3cret-pw" not in run.stderr + run.stdout


def test_columns_are_dropped_from_the_least_important_never_the_ids() -> None:
    columns = [Column("id"), Column("a", drop=1), Column("b", drop=2), Column("c")]
    assert fit_columns([30, 10, 10, 10], columns, None) == [0, 1, 2, 3]  # piped: all
    assert fit_columns([30, 10, 10, 10], columns, 80) == [0, 1, 2, 3]
    assert fit_columns([30, 10, 10, 10], columns, 60) == [0, 1, 3]
    assert fit_columns([30, 10, 10, 10], columns, 20) == [0, 3]  # too wide still: whole


# -- with a Hub ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sandbox", ["sqlite"], indirect=True)  # the CLI's output, not the store
def test_ids_urls_and_roles_are_whole_piped_and_at_80_columns(sandbox: Sandbox) -> None:
    urls = bootstrap(sandbox)
    first = sandbox.ok("apply", "--ref", "v1")
    assert re.search(r"^applied \d+ changes to main in \d+\.\d\d s$", first.out, re.M)
    assert first.out.splitlines()[-1].startswith("releaseId=rel_")
    main = sandbox.repo / "schema" / "main.yaml"
    main.write_text(
        main.read_text().replace("      nickname:", "      bio: { type: string }\n      nickname:")
    )
    second = sandbox.ok("apply", "--ref", "a-rather-long-ref-name-from-ci-42")
    assert "applied 1 change to main in " in second.out
    assert "to analytics" not in second.out  # nothing to do there: nothing claimed
    ids = [r["releaseId"] for r in json.loads(sandbox.ok("release", "list", "--json").out)]
    assert len(ids) == 2
    # roles the rules do not name yet: a long roles column is what this test needs
    sandbox.ok(
        "apikey",
        "create",
        "--name",
        "checkout",
        "--roles",
        "service,reader,auditor,billing_exporter,analytics_reader",
        "--allow-unknown-roles",
    )

    piped = sandbox.ok("release", "list").out
    assert RELEASE_ID.findall(piped) == ids
    assert "a-rather-long-ref-name-from-ci-42" in piped
    assert piped.splitlines()[0].split() == ["releaseId", "ref", "status", "createdAt", "createdBy"]
    assert "ops@example.com" in piped  # piped: every column, however wide
    for environment in ({"STK_FORCE_TERMINAL": "1", "COLUMNS": "80"},):
        narrow = sandbox.stk("release", "list", env=environment)
        assert narrow.code == 0
        assert RELEASE_ID.findall(narrow.out) == ids
        assert all(len(line) <= 80 for line in narrow.out.splitlines())
        assert "left out to fit the terminal" in narrow.err
    code, out, err = in_terminal(("release", "list"), sandbox.env, sandbox.repo)
    assert code == 0, err
    assert RELEASE_ID.findall(out) == ids
    assert "a-rather-long-ref-name-from-ci-42" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "…" not in out

    host_db = urls["dev_main"].split("@", 1)[1].split("?", 1)[0]  # host:port/database
    password = urls["dev_main"].split("://", 1)[1].split("@", 1)[0].partition(":")[2]
    for run in (
        sandbox.ok("connections", "list"),
        sandbox.stk("connections", "list", env={"STK_FORCE_TERMINAL": "1", "COLUMNS": "80"}),
    ):
        assert host_db in run.out
        assert not password or password not in run.out
    code, out, _ = in_terminal(("connections", "list"), sandbox.env, sandbox.repo)
    assert code == 0
    assert host_db in out

    roles = "service,reader,auditor,billing_exporter,analytics_reader"
    code, out, err = in_terminal(("apikey", "list"), sandbox.env, sandbox.repo)
    assert code == 0
    assert roles in out
    assert re.search(r"\b[a-z2-7]{12}\b", out)  # the keyId, whole
    # a long roles list leaves out the times, never the status the list is read for
    assert re.search(r"\bactive\b", out), out
    assert "(createdAt, lastUsedAt left out to fit the terminal" in err
    assert roles in sandbox.ok("apikey", "list").out

    current = sandbox.ok("release", "current").out
    assert current.startswith(f"shop/dev: {ids[0]}  ref a-rather-long-ref-name-from-ci-42")
    assert f" on {sandbox.hub.url} " in sandbox.ok("whoami").out


@pytest.mark.parametrize("sandbox", ["sqlite"], indirect=True)
def test_json_failures_are_one_document_and_a_refused_token_exits_2(sandbox: Sandbox) -> None:
    urls = bootstrap(sandbox)
    sandbox.ok(
        "connections", "set", "--name", "gone", "--engine", "postgres", "--db-url",
        urls["dev_main"].replace(urls["dev_main"].split("@", 1)[1].split("/", 1)[0],
                                 "127.0.0.1:1"),
    )  # fmt: skip
    failing = [
        (("project", "create", "shop"), "CONFLICT"),
        (("env", "create", "--project", "shop", "dev"), "CONFLICT"),
        (("connections", "test", "--name", "gone"), None),
        (("release", "show", "--release-id", "rel_01JAAAAAAAAAAAAAAAAAAAAAAA"), "NOT_FOUND"),
        (("release", "promote", "--from", "dev", "--to", "prod"), None),
        (("release", "rollback", "--to", "rel_01JAAAAAAAAAAAAAAAAAAAAAAA"), None),
        (("release", "current"), None),
    ]
    for args, code in failing:
        run = sandbox.stk(*args, "--json")
        assert run.code == 1, (args, run.out, run.err)
        error = json.loads(run.out)["error"]  # exactly one document on stdout
        assert error["code"] == code or code is None, (args, error)
        assert error["message"], args
        assert error["requestId"], args
        assert run.err.startswith("error: "), args
    for token in ("stkop_not-a-token", ""):
        refused = sandbox.stk("whoami", env={"STK_TOKEN": token, "STK_CONFIG_DIR": "/nonexistent"})
        assert refused.code == 2, refused.err
        assert "stk login" in refused.err
    refused = sandbox.stk("project", "list", "--json", env={"STK_TOKEN": "stkop_not-a-token"})
    assert (refused.code, json.loads(refused.out)["error"]["code"]) == (2, "UNAUTHORIZED")
