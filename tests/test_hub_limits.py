"""The Hub under abuse (issue 11): strings the store cannot hold, huge values, login storms,
random paths, projects a caller cannot see, and where the master key is. A real Hub on a real
port, real stores."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import sqlite3
import string
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from santokit.hub.throttle import Buckets

from .conftest import STK
from .e2e import PASSWORD, HubProcess, Sandbox, hub_with_operator


def login(http: httpx.Client, email: str = "ops@example.com", password: str = PASSWORD) -> str:
    answer = http.post("/v1/auth/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def raw_post(http: httpx.Client, path: str, body: str, token: str | None = None) -> httpx.Response:
    """A POST of JSON text as written: ``\\u0000`` stays an escape the server decodes."""
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return http.post(path, content=body.encode(), headers=headers)


def error(answer: httpx.Response) -> dict[str, Any]:
    body = answer.json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


def test_nul_and_lone_surrogates_are_400_before_any_store_call(sandbox: Sandbox) -> None:
    """Login email, rollback ``to``, promote ``releaseId`` and apply ``ref`` with a NUL were
    500s on the PostgreSQL store; now every JSON string is checked once, before routing."""
    sandbox.operator()
    sandbox.ok("context", "set", "--hub", sandbox.hub.url)
    assert sandbox.login().code == 0
    sandbox.ok("project", "create", "shop")
    sandbox.ok("env", "create", "--project", "shop", "dev")
    with httpx.Client(base_url=sandbox.hub.url, timeout=30) as http:
        token = login(http)
        snapshot = '"snapshot": {"schemaFiles": {}}'
        cases = [
            ("/v1/auth/login", '{"email": "ops\\u0000@example.com", "password": "x"}', "email"),
            ("/v1/projects/shop/envs/dev/releases/rollback", '{"to": "rel_\\u0000"}', "to"),
            (
                "/v1/projects/shop/releases/promote",
                '{"to": "dev", "releaseId": "rel_\\u0000x"}',
                "releaseId",
            ),
            ("/v1/projects/shop/envs/dev/apply", '{"ref": "v\\u0000", ' + snapshot + "}", "ref"),
            (
                "/v1/projects/shop/envs/dev/apply",
                '{"ref": "v1", "snapshot": {"schemaFiles": {"schema/a\\u0000.yaml": "x"}}}',
                "snapshot.schemaFiles",
            ),
        ]
        for path, body, field in cases:
            answer = raw_post(http, path, body, token)
            assert answer.status_code == 400, (path, answer.text)
            err = error(answer)
            assert err["code"] == "BAD_REQUEST"
            assert f"({field})" in err["message"], err
            assert "NUL" in err["message"]
        for body in ('{"email": "\\ud800@x", "password": "x"}', '{"email": "a\\udc00"}'):
            answer = raw_post(http, "/v1/auth/login", body)
            assert answer.status_code == 400, answer.text
            assert error(answer)["code"] == "BAD_REQUEST"
        # an escaped backslash before u0000 is six ordinary characters, and a pair is a character
        for email in ("ops\\\\u0000@example.com", "\\ud83d\\ude00@example.com"):
            answer = raw_post(http, "/v1/auth/login", f'{{"email": "{email}", "password": "x"}}')
            assert answer.status_code == 401, answer.text
        # the Hub and its store are fine afterwards
        me = http.get("/v1/auth/whoami", headers={"authorization": f"Bearer {token}"})
        assert me.status_code == 200
    assert sandbox.stk("release", "list", "--project", "shop", "--env", "dev").code == 0


def test_metric_series_do_not_grow_with_random_paths(tmp_path: Path) -> None:
    hub = hub_with_operator(tmp_path)
    try:
        with httpx.Client(base_url=hub.url, timeout=30) as http:
            token = login(http)
            auth = {"authorization": f"Bearer {token}"}
            assert http.post("/v1/projects", json={"name": "shop"}, headers=auth).is_success
            assert http.get("/v1/projects/shop", headers=auth).is_success

            def series() -> list[str]:
                text = http.get("/metrics").text
                return [line for line in text.splitlines() if line.startswith("stk_hub_requests")]

            before = series()
            assert any('route="/v1/projects/{project}",status="200"' in s for s in before)
            rng = random.Random(11)
            for i in range(1000):
                word = "".join(rng.choices(string.ascii_letters + string.digits, k=12))
                path = (f"/v1/{word}", f"/{word}", f"/v1/projects/{word}/x/{word}")[i % 3]
                method = ("GET", "POST", "DELETE", word.upper()[:6])[i % 4]
                http.request(method, path)
            after = series()
        # a few new (method, "unmatched", status) combinations at most, never one per path
        assert len(after) - len(before) <= 12, sorted(set(after) - set(before))
        assert not any("/v1/" in s and "{" not in s for s in after), after
        assert any('route="unmatched",status="404"' in s for s in after)
    finally:
        hub.stop()


def test_login_storm_is_throttled_audited_and_cannot_grow_memory(tmp_path: Path) -> None:
    hub = hub_with_operator(
        tmp_path,
        STK_HUB_LOGIN_EMAIL_BURST="3",
        STK_HUB_LOGIN_EMAIL_PER_MIN="30",  # a token every 2 s
        STK_HUB_LOGIN_ADDRESS_BURST="8",
        STK_HUB_LOGIN_ADDRESS_PER_MIN="3",  # a token every 20 s
        STK_HUB_LOGIN_REFUSE_DELAY_S="0.2",
    )
    wrong = "not-the-password-" + "x" * 8
    try:
        with httpx.Client(base_url=hub.url, timeout=30) as http:

            def attempt(email: str, password: str) -> httpx.Response:
                return http.post("/v1/auth/login", json={"email": email, "password": password})

            assert [attempt("ops@example.com", wrong).status_code for _ in range(3)] == [401] * 3
            refused = attempt("ops@example.com", PASSWORD)  # even the right one, for a while
            assert refused.status_code == 429
            assert error(refused)["code"] == "RATE_LIMITED"
            wait = int(refused.headers["retry-after"])
            assert 1 <= wait <= 3
            assert f"try again in {wait} s" in error(refused)["message"]
            # the CLI says it in one line, with the wait
            env = {**hub.env, "STK_CONFIG_DIR": str(tmp_path / "cfg"), "NO_COLOR": "1"}
            run = subprocess.run(
                [
                    str(STK),
                    "login",
                    "--hub",
                    hub.url,
                    "--email",
                    "ops@example.com",
                    "--password-stdin",
                ],
                input=PASSWORD + "\n",
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert run.returncode == 1
            lines = run.stderr.strip().splitlines()
            assert len(lines) == 1, run.stderr
            assert "RATE_LIMITED" in lines[0]
            assert re.search(r"try again in \d+ s", lines[0])
            time.sleep(wait + 2.5)  # refilled: the right password works again
            assert attempt("ops@example.com", PASSWORD).status_code == 200
            # the address has budget left for other emails, then it is refused as a whole
            statuses = [attempt(f"u{i}@example.com", wrong).status_code for i in range(6)]
            assert statuses == [401] * 5 + [429], statuses
    finally:
        hub.stop()
    with sqlite3.connect(tmp_path / "hub.db") as db:
        rows = db.execute(
            "select actor, detail from audit_events where action = 'operator.login_failed'"
        ).fetchall()
        everything = json.dumps(db.execute("select * from audit_events").fetchall())
    assert len(rows) == 8  # the refused (429) attempts did no argon2 work and wrote nothing
    details = [json.loads(d) for _, d in rows]
    assert {d["email"] for d in details} == {"ops@example.com"} | {
        f"u{i}@example.com" for i in range(5)
    }
    assert {d["clientAddress"] for d in details} == {"127.0.0.1"}
    assert wrong not in everything
    assert PASSWORD not in everything


def test_throttle_tables_stay_bounded() -> None:
    buckets = Buckets(burst=2, per_s=0.01, size=100)
    for i in range(10_000):
        buckets.take(f"random-{i}@example.com", float(i))
    assert len(buckets) == 100
    assert buckets.take("k", 0.0) == 0
    assert buckets.take("k", 0.0) == 0
    assert buckets.take("k", 0.0) == pytest.approx(100.0)


def test_a_project_without_a_role_is_404_like_a_missing_one(tmp_path: Path) -> None:
    hub = hub_with_operator(tmp_path)
    try:
        subprocess.run(
            [
                str(STK),
                "hub",
                "create-operator",
                "--email",
                "dev@example.com",
                "--password-stdin",
                *hub.store_args,
            ],
            input=PASSWORD + "\n",
            env=hub.env,
            text=True,
            check=True,
            capture_output=True,
        )
        with httpx.Client(base_url=hub.url, timeout=30) as http:
            owner = {"authorization": f"Bearer {login(http)}"}
            assert http.post("/v1/projects", json={"name": "shop"}, headers=owner).is_success
            assert http.post("/v1/projects/shop/envs", json={"name": "dev"}, headers=owner)
            dev = {"authorization": f"Bearer {login(http, 'dev@example.com')}"}

            def answer(method: str, path: str, body: Any = None) -> tuple[int, str, str]:
                got = http.request(method, path, json=body, headers=dev)
                err = error(got)
                return got.status_code, err["code"], err["message"]

            for method, path, body in [
                ("GET", "/v1/projects/{}", None),
                ("GET", "/v1/projects/{}/envs", None),
                ("POST", "/v1/projects/{}/envs", {"name": "qa"}),
                ("GET", "/v1/projects/{}/envs/dev/releases", None),
                ("GET", "/v1/projects/{}/audit", None),
                ("POST", "/v1/projects/{}/releases/promote", {"to": "dev", "from": "x"}),
            ]:
                hidden = answer(method, path.format("shop"), body)
                missing = answer(method, path.format("nope"), body)
                assert hidden[:2] == missing[:2] == (404, "NOT_FOUND"), (path, hidden)
                assert hidden[2].replace("shop", "nope") == missing[2]
        grant = [str(STK), "hub", "grant", "--email", "dev@example.com", "--project", "shop"]
        subprocess.run(
            [*grant, "--role", "viewer", *hub.store_args],
            env=hub.env,
            check=True,
            capture_output=True,
        )
        with httpx.Client(base_url=hub.url, timeout=30) as http:
            dev = {"authorization": f"Bearer {login(http, 'dev@example.com')}"}
            assert http.get("/v1/projects/shop", headers=dev).status_code == 200
            below = http.post("/v1/projects/shop/envs", json={"name": "qa"}, headers=dev)
            assert below.status_code == 403  # a role below the one needed is still named
            assert "needs the admin role" in error(below)["message"]
    finally:
        hub.stop()


def test_echoed_values_are_capped_and_a_huge_decimal_is_a_small_fast_finding(
    tmp_path: Path,
) -> None:
    hub = hub_with_operator(tmp_path, STK_HUB_ECHO_MAX_CHARS="100")
    try:
        with httpx.Client(base_url=hub.url, timeout=30) as http:
            auth = {"authorization": f"Bearer {login(http)}"}
            assert http.post("/v1/projects", json={"name": "shop"}, headers=auth).is_success
            assert http.post("/v1/projects/shop/envs", json={"name": "dev"}, headers=auth)
            huge = "e" * 1_000_000
            got = http.put(
                "/v1/projects/shop/envs/dev/connections/main",
                json={"engine": huge, "dbUrl": "postgresql://x@h/d"},
                headers=auth,
            )
            assert got.status_code == 400
            assert len(got.content) < 1000
            assert "more characters]" in error(got)["message"]
            schema = (
                "version: 1\ntables:\n  t:\n    connection: main\n    columns:\n"
                "      price: { type: decimal, default: '1e400000000' }\n"
            )
            start = time.perf_counter()
            got = http.post(
                "/v1/projects/shop/envs/dev/apply",
                json={"ref": "v1", "snapshot": {"schemaFiles": {"schema/t.yaml": schema}}},
                headers=auth,
            )
            assert time.perf_counter() - start < 2
            assert got.status_code == 400, got.text[:500]
            assert len(got.content) < 2000
            err = error(got)
            assert err["code"] == "VALIDATION_FAILED"
            assert "400000001 digits before the point" in err["details"][0]["message"]
    finally:
        hub.stop()


def test_the_master_key_path_is_said_once_by_the_command_that_made_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STK_")}
    data = tmp_path / "hub"
    create = [str(STK), "hub", "create-operator", "--password-stdin", "--data-dir", str(data)]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*create, *args], input=PASSWORD + "\n", env=env, text=True, capture_output=True
        )

    first = run("--email", "a@example.com")
    assert first.returncode == 0, first.stderr
    key = data / "master.key"
    assert first.stderr.count(str(key)) == 1
    assert "apart from the store's backups" in first.stderr
    assert key.stat().st_mode & 0o777 == 0o600
    assert len(base64.b64decode(key.read_text())) == 32
    second = run("--email", "b@example.com")
    assert second.returncode == 0
    assert "master key" not in second.stderr
    # serve on a fresh data dir makes one and logs its path once, as a JSON line
    other = HubProcess(tmp_path / "other", env)
    other.data_dir.mkdir()
    other.start()
    other.stop()
    lines = [json.loads(x) for x in other.log.read_text().splitlines() if x.startswith("{")]
    made = [x for x in lines if "created the master key" in x["msg"]]
    assert len(made) == 1
    assert made[0]["path"] == str(other.data_dir / "master.key")
    other.start()
    other.stop()
    assert other.log.read_text().count("created the master key") == 1
