"""Where the Hub runs work on customer databases: a few threads of their own.

Every route is a sync function run on a worker thread. Store routes (login, whoami, listings)
share anyio's default pool of 40; if customer-database work shared it too, 40 requests to a
database that never answers would leave no thread for anything else. So the routes that reach a
customer database (apply, connection test, promote, rollback) run on a separate, smaller pool:
a request waits at most ``STK_HUB_DB_QUEUE_S`` for one of ``STK_HUB_DB_WORKERS`` places, then
gets SERVICE_UNAVAILABLE with Retry-After. Inside, each database has its own few slots (the
engine's ``STK_HUB_DB_SLOTS``), so one silent database holds at most that many of the places.

Why threads and not async I/O: the apply is one synchronous flow of store and database steps
under locks; bounding every wait (see the postgres engine) and capping the threads gives the
same isolation without rewriting it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from santokit.core.errors import ServiceUnavailable, UsageError

T = TypeVar("T")


def _setting(name: str, default: float, *, whole: bool = False) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = -1
    if not 0 < value < 86_400 or not math.isfinite(value):
        raise UsageError(f"{name} must be a {'whole ' if whole else ''}number above 0, not {raw!r}")
    return value


class DbWork:
    """A bounded pool for customer-database work (created per Hub, bound to its event loop on
    first use)."""

    def __init__(self, workers: int | None = None, queue_s: float | None = None) -> None:
        self.workers = workers or int(_setting("STK_HUB_DB_WORKERS", 8, whole=True))
        self.queue_s = queue_s if queue_s is not None else _setting("STK_HUB_DB_QUEUE_S", 1.0)
        self._places: anyio.Semaphore | None = None
        self._threads: anyio.CapacityLimiter | None = None

    async def run(self, fn: Callable[[], T]) -> T:
        if self._places is None or self._threads is None:
            self._places = anyio.Semaphore(self.workers)
            self._threads = anyio.CapacityLimiter(self.workers)
        try:
            with anyio.fail_after(self.queue_s):
                await self._places.acquire()
        except TimeoutError:
            raise ServiceUnavailable(
                f"all {self.workers} places for database work are busy; try again shortly",
                retry_after=max(1, math.ceil(self.queue_s)),
            ) from None
        try:
            return await anyio.to_thread.run_sync(fn, limiter=self._threads)
        finally:
            self._places.release()
