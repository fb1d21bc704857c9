"""The Bridge's API-key check against a synced key table: one refusal for every reason."""

from __future__ import annotations

from typing import Any

import pytest

from santokit.bridge.keys import REFUSED, KeyTable
from santokit.core import apikeys
from santokit.core.errors import Unauthorized


def row(key: apikeys.NewKey, status: str = "active", roles: list[str] | None = None) -> Any:
    return {
        "keyId": key.key_id,
        "keyHash": apikeys.key_hash(key.key),
        "roles": roles if roles is not None else ["service"],
        "status": status,
    }


def refused(table: KeyTable, key: str, env: str = "dev") -> str:
    with pytest.raises(Unauthorized) as info:
        table.check(key, env=env)
    return info.value.message


def test_a_good_key_gives_its_roles() -> None:
    good = apikeys.generate("dev")
    entry = KeyTable.from_json([row(good, roles=["service", "writer"])]).check(good.key, env="dev")
    assert entry.key_id == good.key_id
    assert entry.roles == ("service", "writer")


def test_every_refusal_is_the_same_and_names_no_key() -> None:
    good, revoked, unknown = (apikeys.generate("dev") for _ in range(3))
    prod = apikeys.generate("prod")
    table = KeyTable.from_json([row(good), row(revoked, "revoked"), row(prod)])
    same_id_other_secret = apikeys.generate("dev")
    body = f"stk_dev_{good.key_id}_"
    other_tail = same_id_other_secret.key.rsplit("_", 1)[1][:-6]
    wrong_secret = body + other_tail + apikeys.checksum(body + other_tail)
    tampered = good.key[:-1] + ("A" if good.key[-1] != "A" else "B")  # checksum fails
    for key, env in [
        (revoked.key, "dev"),
        (unknown.key, "dev"),
        (prod.key, "dev"),  # a key of another env
        (good.key, "prod"),  # this Bridge serves another env
        (wrong_secret, "dev"),  # a real keyId with another secret and a valid checksum
        (tampered, "dev"),
        ("garbage", "dev"),
        ("", "dev"),
    ]:
        message = refused(table, key, env)
        assert message == REFUSED
        if key:
            assert key not in message


@pytest.mark.parametrize(
    "rows",
    [
        {"keyId": "x"},
        [{"keyId": "x", "keyHash": "0" * 64, "roles": [], "status": "active"}],
        [{"keyId": "abcdefghijkl", "keyHash": "short", "roles": [], "status": "active"}],
        [{"keyId": "abcdefghijkl", "keyHash": "0" * 64, "roles": [1], "status": "active"}],
        [{"keyId": "abcdefghijkl", "keyHash": "0" * 64, "roles": [], "status": "maybe"}],
        ["row"],
    ],
)
def test_a_malformed_table_is_refused_in_one_line(rows: Any) -> None:
    with pytest.raises(ValueError, match="key table") as info:
        KeyTable.from_json(rows)
    assert "\n" not in str(info.value)
    assert "0" * 64 not in str(info.value)
