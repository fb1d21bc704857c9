"""API key verification in process, on a real SQLite store: what it asks the store, and when
it writes ``lastUsedAt``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from santokit.core import apikeys
from santokit.hub.errors import ApiError
from santokit.hub.internal import settle_touches, token_allowed, verify_key
from santokit.hub.service import Hub
from santokit.plugins.sqlstore import schema as t


class Counted:
    """The real store, counting its sessions (reads and transactions) and ``lastUsedAt``
    writes."""

    def __init__(self, store: Any) -> None:
        self.store, self.txs, self.touches = store, 0, 0
        self.local_reads = store.local_reads

    @contextmanager
    def read(self) -> Iterator[Any]:
        self.txs += 1
        with self.store.read() as tx:
            yield tx

    @contextmanager
    def tx(self) -> Iterator[Any]:
        self.txs += 1
        with self.store.tx() as tx:
            real_touch = tx.touch_api_key

            def touch(key_id: str) -> None:
                self.touches += 1
                real_touch(key_id)

            tx.touch_api_key = touch
            yield tx


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    hub, _ = Hub.open(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path)
    with hub.store.tx() as tx:
        for project in ("shop", "other"):
            tx.insert_project(project, "ops@example.com")
            tx.insert_env(project, "dev")
    store = hub.store
    yield hub
    store.close()


def new_key(hub: Hub, project: str = "shop", env: str = "dev") -> apikeys.NewKey:
    new = apikeys.generate(env)
    with hub.store.tx() as tx:
        tx.insert_api_key(
            key_id=new.key_id,
            project=project,
            env=env,
            name="ci",
            roles=["service"],
            key_hash=apikeys.key_hash(new.key),
            actor="ops@example.com",
        )
    return new


def refused(hub: Hub, key: object, **bind: str) -> str:
    with pytest.raises(ApiError) as caught:
        verify_key(hub, key, **bind)  # type: ignore[arg-type]
    assert caught.value.code == "UNAUTHORIZED"
    return caught.value.message


def test_malformed_keys_and_bad_checksums_never_reach_the_store(hub: Hub) -> None:
    good = new_key(hub).key
    counted = Counted(hub.store)
    hub.store = counted
    bad_checksum = good[:-1] + ("A" if good[-1] != "A" else "B")
    messages = {
        refused(hub, text)
        for text in ("", "nope", "stk_dev_x", good + "x", bad_checksum, good.upper(), "é" * 90)
    }
    assert refused(hub, good, env="prod") in messages  # the env in the key is not the asked one
    assert counted.txs == 0
    # an unknown key of the right shape costs one lookup; every refusal reads the same
    messages.add(refused(hub, apikeys.generate("dev").key))
    assert counted.txs == 1
    assert messages == {"the API key is not valid"}


def test_keys_are_bound_to_their_project_and_env(hub: Hub) -> None:
    key = new_key(hub).key
    other = new_key(hub, project="other").key
    assert verify_key(hub, key)["project"] == "shop"
    assert verify_key(hub, key, project="shop", env="dev")["roles"] == ["service"]
    refused(hub, key, project="other")
    refused(hub, other, project="shop")
    assert verify_key(hub, other, project="other")["env"] == "dev"
    with hub.store.tx() as tx:
        tx.revoke_api_key("shop", "dev", apikeys.parse(key).key_id)  # type: ignore[union-attr]
    refused(hub, key)


def test_last_used_at_is_written_at_most_once_a_minute(hub: Hub) -> None:
    new = new_key(hub)
    counted = Counted(hub.store)
    hub.store = counted
    for _ in range(20):
        verify_key(hub, new.key)
    settle_touches()
    assert counted.touches == 1
    assert counted.txs == 21  # one read each, one write
    # a minute later in this process, and the stored time a minute old too: written again
    hub.key_touches[new.key_id] -= 61
    with counted.store.engine.begin() as conn:
        conn.execute(
            t.api_keys.update()
            .where(t.api_keys.c.key_id == new.key_id)
            .values(last_used_at="2020-01-01T00:00:00.000000Z")
        )
    verify_key(hub, new.key)
    verify_key(hub, new.key)
    settle_touches()
    assert counted.touches == 2
    # another replica wrote it a moment ago: this process, fresh, does not write
    hub.key_touches.clear()
    verify_key(hub, new.key)
    settle_touches()
    assert counted.touches == 2
    with counted.store.tx() as tx:
        assert tx.api_key(new.key_id)["last_used_at"] > "2020-01-01T00:00:00.000000Z"


def test_service_tokens_are_matched_exactly() -> None:
    tokens = ("first-token", "second-token")
    assert token_allowed(tokens, "first-token")
    assert token_allowed(tokens, "second-token")
    for given in ("", "first-toke", "first-token ", "third", "fïrst-token"):
        assert not token_allowed(tokens, given)
    assert not token_allowed((), "")
    assert not token_allowed((), "anything")
