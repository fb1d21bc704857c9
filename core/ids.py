"""Ids the Bridge generates on insert (schema.md §2, ``id.generate``), from well-kept libraries.

``auto_increment`` ids come from the database and ``client`` ids from the caller: for those
``generated`` returns None and the insert leaves the id as the caller gave it (or out of it).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import nanoid
import uuid6
from ulid import ULID

_MAKERS: dict[str, Callable[[], str]] = {
    "ulid": lambda: str(ULID()),
    "nanoid": lambda: str(nanoid.generate()),  # 21 URL-safe characters, as nanoid defines
    "uuid_v4": lambda: str(uuid.uuid4()),
    "uuid_v7": lambda: str(uuid6.uuid7()),  # time-ordered; the standard library has it from 3.14
}
BRIDGE_GENERATED = tuple(_MAKERS)


def generated(generate: str) -> str | None:
    """A new id for an ``id.generate`` the Bridge fills, else None (database or caller)."""
    maker = _MAKERS.get(generate)
    return maker() if maker else None
