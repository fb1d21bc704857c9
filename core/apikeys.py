"""The project API key format (hub.md §6): generate, parse and checksum, offline.

A key reads ``stk_<env>_<keyId>_<secret><checksum>``:

- ``env``: the env's name (``[a-z_][a-z0-9_]*``, so it may itself hold ``_``);
- ``keyId``: 12 characters of lowercase RFC 4648 base32 (``a-z2-7``, 60 random bits): easy to
  read aloud and to type in ``stk apikey revoke --key-id``;
- ``secret``: 32 random bytes as 43 base62 characters (``0-9A-Za-z``). That is
  ``token_urlsafe``'s strength without its ``-`` and ``_``, so the key is one word to a
  double-click and the last ``_`` always ends the keyId;
- ``checksum``: CRC32 of everything before it, as 6 base62 characters, so a secret scanner can
  tell a real key from a look-alike without asking the Hub.

Parsing therefore reads from the right: the last two ``_`` separate keyId and secret+checksum,
whatever the env name holds. The Hub stores only the key's sha256 (a 256-bit random secret needs
no slow hash).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from dataclasses import dataclass

PREFIX = "stk_"
BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
KEY_ID_LEN = 12
SECRET_BYTES = 32
SECRET_LEN = 43  # 62**43 > 2**256
CHECKSUM_LEN = 6  # 62**6 > 2**32
MAX_KEY_LEN = len(PREFIX) + 63 + 1 + KEY_ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN

_ENV_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_KEY_ID_RE = re.compile(f"[{BASE32}]{{{KEY_ID_LEN}}}")
_TAIL_RE = re.compile(f"[0-9A-Za-z]{{{SECRET_LEN + CHECKSUM_LEN}}}")
# For secret scanners: anything of this shape whose checksum verifies is a Santokit key.
KEY_PATTERN = re.compile(r"\bstk_[a-z_][a-z0-9_]{0,62}_[a-z2-7]{12}_[0-9A-Za-z]{49}\b")


@dataclass(frozen=True)
class ParsedKey:
    """A well-formed key whose checksum verifies (not yet known to the Hub)."""

    env: str
    key_id: str
    secret: str


@dataclass(frozen=True)
class NewKey:
    key_id: str
    key: str


def _base62(number: int, width: int) -> str:
    out = []
    for _ in range(width):
        number, digit = divmod(number, 62)
        out.append(BASE62[digit])
    if number:
        raise ValueError("number does not fit the width")
    return "".join(reversed(out))


def checksum(body: str) -> str:
    """The 6-character checksum of everything before it."""
    return _base62(zlib.crc32(body.encode()), CHECKSUM_LEN)


def generate(env: str) -> NewKey:
    """A new random key for ``env``."""
    if not _ENV_RE.fullmatch(env):
        raise ValueError(f"{env!r} is not an env name")
    key_id = "".join(secrets.choice(BASE32) for _ in range(KEY_ID_LEN))
    secret = _base62(int.from_bytes(secrets.token_bytes(SECRET_BYTES), "big"), SECRET_LEN)
    body = f"{PREFIX}{env}_{key_id}_{secret}"
    return NewKey(key_id, body + checksum(body))


def is_key_id(text: str) -> bool:
    """Whether ``text`` has the shape of a key id (what ``stk apikey revoke`` takes)."""
    return _KEY_ID_RE.fullmatch(text) is not None


def parse(key: object) -> ParsedKey | None:
    """The parts of ``key``, or None when it is not a key or its checksum is wrong.

    Pure and cheap: the Hub calls it before any store lookup, so garbage costs no query.
    """
    if not isinstance(key, str) or len(key) > MAX_KEY_LEN or not key.startswith(PREFIX):
        return None
    parts = key[len(PREFIX) :].rsplit("_", 2)
    if len(parts) != 3:
        return None
    env, key_id, tail = parts
    if not (_ENV_RE.fullmatch(env) and _KEY_ID_RE.fullmatch(key_id) and _TAIL_RE.fullmatch(tail)):
        return None
    if checksum(key[:-CHECKSUM_LEN]) != tail[-CHECKSUM_LEN:]:
        return None
    return ParsedKey(env, key_id, tail[:-CHECKSUM_LEN])


def key_hash(key: str) -> str:
    """What the Hub stores instead of the key: its sha256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()
