"""The env change feed of the Bridge protocol (hub.md §7): what an env serves, as a version.

An env's state is three parts: its release pointer, its API key table and its connections. The
version is the digest of each part, joined (``<release>.<apikeys>.<connections>``): opaque to the
Bridge, and reading it off the store needs no counter of its own, so a change made through any
Hub replica, or by hand in the store, moves it. A long poll waits on an in-process signal that
every successful change through this Hub sets, and re-reads the store every ``poll_s`` to hear
changes made through another replica (SQLite file or PostgreSQL store alike). A waiting poll holds
no store connection and no worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .dbwork import _setting
from .service import Hub

PARTS = ("release", "apikeys", "connections")


@dataclass(frozen=True)
class FeedSettings:
    poll_s: float  # STK_HUB_FEED_POLL_S: how often a held poll re-reads the store
    max_wait_s: float  # STK_HUB_FEED_MAX_WAIT_S: the longest waitS honoured
    max_held: int  # STK_HUB_FEED_MAX_HELD: polls one Hub process holds at once

    @classmethod
    def from_env(cls) -> FeedSettings:
        return cls(
            poll_s=_setting("STK_HUB_FEED_POLL_S", 0.25),
            max_wait_s=_setting("STK_HUB_FEED_MAX_WAIT_S", 30.0),
            max_held=int(_setting("STK_HUB_FEED_MAX_HELD", 1000, whole=True)),
        )


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def key_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The key table the Bridge holds: hashes, roles and status only, never a key."""
    return [
        {
            "keyId": r["key_id"],
            "keyHash": r["key_hash"],
            "roles": json.loads(r["roles"]),
            "status": r["status"],
        }
        for r in rows
    ]


def env_version(hub: Hub, project: str, env: str) -> str:
    """The env's version now: one read transaction of three indexed queries."""
    with hub.store.read() as tx:
        pointer = tx.pointer(project, env)
        keys = tx.api_keys(project, env)
        conns = tx.connections(project, env)
    release = [pointer["release_id"], pointer["updated_at"]] if pointer else None
    connections = [
        [
            c["name"],
            c["engine"],
            c["db_schema"],
            c["updated_at"],
            hashlib.sha256(bytes(c["url_ciphertext"])).hexdigest(),
        ]
        for c in conns
    ]
    return ".".join((_digest(release), _digest(key_rows(keys)), _digest(connections)))


def moved(before: str, now: str) -> dict[str, bool]:
    """Which parts differ between two versions (every part, when ``before`` is not one)."""
    old, new = before.split("."), now.split(".")
    if len(old) != len(PARTS):
        return dict.fromkeys(PARTS, True)
    return {part: a != b for part, a, b in zip(PARTS, old, new, strict=True)}


class Feed:
    """The in-process signal: ``poke`` wakes every held poll so it re-reads its env's state.
    Bound to the event loop of the app (poked from middleware and handlers on that loop)."""

    def __init__(self, settings: FeedSettings) -> None:
        self.settings = settings
        self.held = 0
        self._event: asyncio.Event | None = None

    def _current(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def poke(self) -> None:
        event = self._current()
        self._event = asyncio.Event()
        event.set()

    async def wait(self, timeout_s: float) -> None:
        """Until the next poke or ``timeout_s``, whichever is first."""
        event = self._current()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)


def feed_of(state: Any) -> Feed:
    """The app's feed (made on first use, so every app built by create_app has its own)."""
    found = getattr(state, "feed", None)
    if found is None:
        found = Feed(FeedSettings.from_env())
        state.feed = found
    return found
