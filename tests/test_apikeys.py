"""The API key format (core.apikeys): round trips, checksums, and what a scanner can rely on."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from santokit.core import apikeys

ENVS = st.from_regex(r"[a-z_][a-z0-9_]{0,62}", fullmatch=True)
SETTINGS = settings(max_examples=200, deadline=None)


@SETTINGS
@given(ENVS)
def test_generate_then_parse_round_trips(env: str) -> None:
    new = apikeys.generate(env)
    parsed = apikeys.parse(new.key)
    assert parsed is not None
    assert (parsed.env, parsed.key_id) == (env, new.key_id)
    assert new.key == f"stk_{env}_{new.key_id}_{parsed.secret}{apikeys.checksum(new.key[:-6])}"
    assert len(new.key_id) == 12
    assert set(new.key_id) <= set(apikeys.BASE32)
    assert len(parsed.secret) == 43
    assert "_" not in parsed.secret
    assert len(new.key) <= apikeys.MAX_KEY_LEN
    assert apikeys.KEY_PATTERN.fullmatch(new.key)


@SETTINGS
@given(ENVS, st.data())
def test_any_single_character_change_is_refused(env: str, data: st.DataObject) -> None:
    key = apikeys.generate(env).key
    at = data.draw(st.integers(0, len(key) - 1))
    other = data.draw(st.characters(codec="utf-8").filter(lambda c: c != key[at]))
    assert apikeys.parse(key[:at] + other + key[at + 1 :]) is None
    assert apikeys.parse(key[:at] + key[at + 1 :]) is None


def test_keys_differ_and_hash_to_sha256() -> None:
    keys = {apikeys.generate("dev").key for _ in range(200)}
    assert len(keys) == 200
    key = next(iter(keys))
    assert len(apikeys.key_hash(key)) == 64
    assert apikeys.key_hash(key) != apikeys.key_hash(key + "x")


def test_garbage_is_not_a_key() -> None:
    key = apikeys.generate("dev").key
    for text in (
        "",
        "stk_",
        "stk_dev",
        key.upper(),
        key + "x",
        key[:-6] + "000000",
        "x" + key,
        key.replace("stk_", "stq_"),
        "stk_dev_" + "a" * 12 + "_" + "b" * 49,  # the right shape, a wrong checksum
        "stk_" + "a" * 500,
        None,
        42,
    ):
        assert apikeys.parse(text) is None, text


def test_a_scanner_finds_keys_in_text() -> None:
    key = apikeys.generate("prod_eu").key
    text = f"export STK_API_KEY={key}\n# and some stk_words_here that are not keys\n"
    found = [m.group(0) for m in apikeys.KEY_PATTERN.finditer(text)]
    assert found == [key]
    assert all(apikeys.parse(f) for f in found)
