"""The Hub side of the Bridge's sync (hub.md §7): the key table and the change feed, on a real
Hub process driven by the real stk, both stores; a second Hub process on the same store stands
in for another replica."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from .e2e import BRIDGE_TOKENS, PASSWORD, HubProcess, Sandbox
from .test_e2e_flow02 import created, setup

AUTH = {"Authorization": f"Bearer {BRIDGE_TOKENS[0]}"}


def changes(url: str, after: str = "", wait: float = 0) -> httpx.Response:
    return httpx.get(
        f"{url}/internal/changes",
        params={"project": "shop", "env": "dev", "after": after, "waitS": wait},
        headers=AUTH,
        timeout=30,
    )


def held_poll(url: str, after: str, wait: float) -> tuple[list[Any], threading.Thread]:
    """A poll held in a thread; the list gets (seconds it took, body)."""
    out: list[Any] = []

    def run() -> None:
        start = time.monotonic()
        response = changes(url, after, wait)
        out.append((time.monotonic() - start, response.json()))

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)  # the poll is held before the change is made
    return out, thread


def test_key_table_holds_hashes_only_and_answers_304(sandbox: Sandbox) -> None:
    setup(sandbox)
    key_id, key = created(sandbox.ok("apikey", "create", "--name", "srv", "--roles", "service"))
    url = f"{sandbox.hub.url}/internal/apikeys"
    params = {"project": "shop", "env": "dev"}
    assert httpx.get(url, params=params).status_code == 401
    first = httpx.get(url, params=params, headers=AUTH)
    assert first.status_code == 200, first.text
    assert [r["keyId"] for r in first.json()] == [key_id]
    assert first.json()[0]["roles"] == ["service"]
    assert first.json()[0]["status"] == "active"
    assert key not in first.text
    assert key.rsplit("_", 1)[-1] not in first.text
    again = httpx.get(url, params=params, headers={**AUTH, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    sandbox.ok("apikey", "revoke", "--key-id", key_id)
    after = httpx.get(url, params=params, headers={**AUTH, "If-None-Match": first.headers["etag"]})
    assert after.status_code == 200
    assert after.json()[0]["status"] == "revoked"


def test_a_held_poll_wakes_on_a_change_through_this_hub_and_another(sandbox: Sandbox) -> None:
    setup(sandbox)
    now = changes(sandbox.hub.url)
    assert now.status_code == 200, now.text
    version = now.json()["version"]
    # nothing moves: the poll answers after waitS, saying so
    quiet = time.monotonic()
    idle = changes(sandbox.hub.url, version, 0.6).json()
    assert 0.5 < time.monotonic() - quiet < 5
    assert idle == {"version": version, "release": False, "apikeys": False, "connections": False}
    # a key created through this Hub wakes the held poll at once
    out, thread = held_poll(sandbox.hub.url, version, 20)
    key_id, _ = created(sandbox.ok("apikey", "create", "--name", "srv", "--roles", "service"))
    thread.join(25)
    took, body = out[0]
    assert took < 5
    assert body["apikeys"]
    assert not body["release"]
    assert not body["connections"]
    # a revoke through a second Hub process on the same store wakes a poll held by the first
    other = HubProcess(sandbox.hub.data_dir, sandbox.env, sandbox.hub.store)
    other.start()
    there = {"STK_HUB_URL": other.url}
    try:
        login = sandbox.stk(
            "login",
            "--email",
            "ops@example.com",
            "--password-stdin",
            stdin=PASSWORD + "\n",
            env=there,
        )
        assert login.code == 0, login.err
        out, thread = held_poll(sandbox.hub.url, body["version"], 20)
        start = time.monotonic()
        revoked = sandbox.stk(
            "apikey", "revoke", "--key-id", key_id, env={"STK_HUB_URL": other.url}
        )
        done = time.monotonic()
        assert revoked.code == 0, revoked.err
        thread.join(25)
        took, moved = out[0]
        assert moved["apikeys"], moved
        # answered within 1 s of the revoke returning (the poll re-reads the store every 0.25 s)
        assert start + took - 0.5 - done < 1.0
    finally:
        other.stop()


def test_wait_is_checked_and_capped(sandbox: Sandbox) -> None:
    setup(sandbox)
    bad = changes(sandbox.hub.url, "x", -1)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "BAD_REQUEST"
    nan = httpx.get(
        f"{sandbox.hub.url}/internal/changes",
        params={"project": "shop", "env": "dev", "waitS": "soon"},
        headers=AUTH,
    )
    assert nan.status_code == 400
    missing = httpx.get(
        f"{sandbox.hub.url}/internal/changes",
        params={"project": "shop", "env": "nope"},
        headers=AUTH,
    )
    assert missing.status_code == 404
    # an unknown version is behind: the answer is at once, everything marked moved
    behind = changes(sandbox.hub.url, "not-a-version", 20)
    assert behind.elapsed.total_seconds() < 5
    assert behind.json()["release"]
    assert behind.json()["apikeys"]


def test_usage_records_last_used_for_that_env_only(sandbox: Sandbox) -> None:
    setup(sandbox)
    key_id, _ = created(sandbox.ok("apikey", "create", "--name", "srv", "--roles", "service"))
    url = f"{sandbox.hub.url}/internal/apikeys/usage"
    other_env = httpx.post(
        url, json={"project": "shop", "env": "prod", "keyIds": [key_id]}, headers=AUTH
    )
    assert other_env.status_code == 200
    assert other_env.json() == {"recorded": 0}
    good = httpx.post(
        url, json={"project": "shop", "env": "dev", "keyIds": [key_id, "nosuchkey"]}, headers=AUTH
    )
    assert good.status_code == 200
    assert good.json() == {"recorded": 1}
    too_many = httpx.post(
        url, json={"project": "shop", "env": "dev", "keyIds": ["k"] * 1001}, headers=AUTH
    )
    assert too_many.status_code == 400
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        listed = sandbox.ok("apikey", "list", "--json")
        if '"lastUsedAt": null' not in listed.out and "lastUsedAt" in listed.out:
            break
        time.sleep(0.2)
    assert '"lastUsedAt": null' not in listed.out, listed.out
