"""API keys checked by the Bridge against the env's key table (bridge.md §2-§3, hub.md §6).

The table comes from the Hub's ``/internal/apikeys`` (sha256 hashes, roles, status; never a
key) and is replaced whole on every change the feed reports. A check parses the key first (its
checksum: garbage costs no lookup), then finds the row by keyId and compares the hashes in
constant time. Every refusal is the same ``Unauthorized``: nothing says why.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from santokit.core import apikeys
from santokit.core.errors import Unauthorized

REFUSED = "the API key is not valid for this env"


@dataclass(frozen=True)
class KeyEntry:
    key_id: str
    key_hash: str
    roles: tuple[str, ...]
    status: str


class KeyTable:
    """One env's keys by keyId; immutable, so a request checks against one whole table."""

    def __init__(self, entries: Mapping[str, KeyEntry]) -> None:
        self._entries = MappingProxyType(dict(entries))

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def from_json(cls, rows: object) -> KeyTable:
        """The Hub's rows ``[{keyId, keyHash, roles, status}]``; a malformed row is a
        ValueError (one line, naming the row's position, never a hash)."""
        if not isinstance(rows, list):
            raise ValueError("the key table is not a list")
        entries: dict[str, KeyEntry] = {}
        for n, row in enumerate(rows):
            entry = _entry(row)
            if entry is None:
                raise ValueError(f"row {n} of the key table is malformed")
            entries[entry.key_id] = entry
        return cls(entries)

    def check(self, api_key: str, *, env: str) -> KeyEntry:
        """The active entry of ``api_key`` in this env, else ``Unauthorized``."""
        parsed = apikeys.parse(api_key)
        if parsed is None or parsed.env != env:
            raise Unauthorized(REFUSED)
        entry = self._entries.get(parsed.key_id)
        if entry is None or not hmac.compare_digest(entry.key_hash, apikeys.key_hash(api_key)):
            raise Unauthorized(REFUSED)
        if entry.status != "active":
            raise Unauthorized(REFUSED)
        return entry


def _entry(row: Any) -> KeyEntry | None:
    if not isinstance(row, dict):
        return None
    key_id, key_hash, roles, status = (row.get(k) for k in ("keyId", "keyHash", "roles", "status"))
    if not (isinstance(key_id, str) and apikeys.is_key_id(key_id)):
        return None
    if not (isinstance(key_hash, str) and len(key_hash) == 64):
        return None
    if not (isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
        return None
    if status not in ("active", "revoked"):
        return None
    return KeyEntry(key_id, key_hash, tuple(roles), status)
