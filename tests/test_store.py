"""The Hub store on SQLite and PostgreSQL: forward-only upgrades and the API key operations."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from santokit.core.errors import Conflict
from santokit.plugins.sqlstore import schema as t
from santokit.plugins.sqlstore.store import SqlStore, StoreError


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        yield request.getfixturevalue("database")


def version_1_store(url: str) -> SqlStore:
    """A store as a version-1 Hub left it: every table but those added later, with some data."""
    later = {table for tables in t.ADDED_IN.values() for table in tables}
    store = SqlStore(url)
    with store.engine.begin() as conn:
        for table in t.metadata.sorted_tables:
            if table not in later:
                table.create(conn)
        conn.execute(t.schema_version.insert().values(version=1))
    with store.tx() as tx:
        tx.insert_project("shop", "ops@example.com")
        tx.insert_env("shop", "dev")
    return store


def test_an_older_store_is_upgraded_forward_and_keeps_its_data(store_url: str) -> None:
    store = version_1_store(store_url)
    assert "api_keys" not in inspect(store.engine).get_table_names()
    assert store.ready() is not None  # no health row to write yet: not ready
    store.migrate()
    assert {"api_keys", "stk_health"} <= set(inspect(store.engine).get_table_names())
    assert store.ready() is None  # /readyz's committed write works on an upgraded store
    with store.engine.connect() as conn:
        assert conn.execute(select(t.schema_version.c.version)).scalar_one() == t.SCHEMA_VERSION
    with store.tx() as tx:
        assert tx.project("shop") is not None
        tx.insert_api_key(
            key_id="abcdefgh2345",
            project="shop",
            env="dev",
            name="ci",
            roles=["service"],
            key_hash="0" * 64,
            actor="ops@example.com",
        )
        assert tx.count_active_api_keys("shop", "dev") == 1
    store.migrate()  # a second start changes nothing
    with store.tx() as tx:
        assert [k["key_id"] for k in tx.api_keys("shop", "dev")] == ["abcdefgh2345"]
    store.close()


def test_a_store_of_a_newer_hub_is_refused(store_url: str) -> None:
    store = SqlStore(store_url)
    store.migrate()
    with store.engine.begin() as conn:
        conn.execute(text("update stk_schema_version set version = 999"))
    with pytest.raises(StoreError, match="newer Hub"):
        store.migrate()
    store.close()


def test_api_key_operations(store_url: str) -> None:
    store = SqlStore(store_url)
    store.migrate()
    key = {"project": "shop", "env": "dev", "roles": ["a", "b"], "actor": "ops@example.com"}
    with store.tx() as tx:
        tx.insert_project("shop", "ops@example.com")
        tx.insert_env("shop", "dev")
        tx.insert_api_key(key_id="aaaaaaaaaaaa", name="one", key_hash="1" * 64, **key)
        tx.insert_api_key(key_id="bbbbbbbbbbbb", name="two", key_hash="2" * 64, **key)
    with pytest.raises(Conflict), store.tx() as tx:
        tx.insert_api_key(key_id="aaaaaaaaaaaa", name="dup", key_hash="3" * 64, **key)
    with store.tx() as tx:
        assert tx.revoke_api_key("shop", "dev", "aaaaaaaaaaaa")
        assert not tx.revoke_api_key("shop", "dev", "aaaaaaaaaaaa")  # already revoked
        assert not tx.revoke_api_key("shop", "prod", "bbbbbbbbbbbb")  # not that env's key
        assert tx.count_active_api_keys("shop", "dev") == 1
        tx.touch_api_key("bbbbbbbbbbbb")
        rows = {r["key_id"]: r for r in tx.api_keys("shop", "dev")}
    assert rows["aaaaaaaaaaaa"]["status"] == "revoked"
    assert rows["aaaaaaaaaaaa"]["revoked_at"]
    assert rows["bbbbbbbbbbbb"]["last_used_at"]
    assert rows["bbbbbbbbbbbb"]["roles"] == '["a", "b"]'
    with store.read() as tx:  # the verification lookup, outside a transaction on PostgreSQL
        assert tx.api_key("bbbbbbbbbbbb")["name"] == "two"
        assert tx.api_key("cccccccccccc") is None
    store.close()


def test_replicas_upgrading_together_do_not_trip_over_each_other(database: str) -> None:
    """A rolling upgrade: several Hubs start on one older PostgreSQL store at once."""
    version_1_store(database).close()
    stores = [SqlStore(database) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def start(store: SqlStore) -> None:
        barrier.wait()
        try:
            store.migrate()
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with stores[0].engine.connect() as conn:
        assert conn.execute(select(t.schema_version.c.version)).scalar_one() == t.SCHEMA_VERSION
    for store in stores:
        store.close()
