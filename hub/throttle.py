"""Login throttling (hub.md §8): token buckets per email and per client address, in bounded
tables, and a small executor of its own for the argon2 work.

A login takes one token from the email's bucket and one from the address's before the password
is checked, and gives them back when the password was right: only failures use up the budget,
and a storm of guesses is refused (429) before any argon2 work is done. Buckets live in LRU
tables of bounded size, so random emails cannot grow memory; the email is kept as a sha256.
State is per Hub process (each replica throttles on its own).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from santokit.core.errors import UsageError


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{name} must be a number, not {raw[:20]!r}") from None
    if value <= 0:
        raise UsageError(f"{name} must be positive")
    return value


@dataclass(frozen=True)
class LoginSettings:
    """``STK_HUB_LOGIN_*``: bucket sizes (failures allowed in a burst), refill rates (failures
    per minute in the long run), the table size, the argon2 workers, their queue and their nice
    value (lower CPU priority than the event loop), and how long a refusal is held back: a
    client that waits for each answer, as a guessing loop does, is slowed to that pace, and
    holding an answer costs the event loop nothing."""

    email_burst: float = 5
    email_per_min: float = 2
    address_burst: float = 20
    address_per_min: float = 20
    table_size: int = 10_000
    workers: int = 2
    queue: int = 16
    nice: int = 10
    refuse_delay_s: float = 1.0

    @classmethod
    def from_env(cls) -> LoginSettings:
        d = cls()
        return cls(
            email_burst=_env_number("STK_HUB_LOGIN_EMAIL_BURST", d.email_burst),
            email_per_min=_env_number("STK_HUB_LOGIN_EMAIL_PER_MIN", d.email_per_min),
            address_burst=_env_number("STK_HUB_LOGIN_ADDRESS_BURST", d.address_burst),
            address_per_min=_env_number("STK_HUB_LOGIN_ADDRESS_PER_MIN", d.address_per_min),
            table_size=int(_env_number("STK_HUB_LOGIN_TABLE_SIZE", d.table_size)),
            workers=int(_env_number("STK_HUB_LOGIN_WORKERS", d.workers)),
            queue=int(_env_number("STK_HUB_LOGIN_QUEUE", d.queue)),
            nice=int(_env_number("STK_HUB_LOGIN_NICE", d.nice)),
            refuse_delay_s=_env_number("STK_HUB_LOGIN_REFUSE_DELAY_S", d.refuse_delay_s),
        )


@dataclass
class Buckets:
    """Token buckets keyed by string, at most ``size`` of them (least recently used dropped:
    a dropped bucket is a full one again, the price of bounded memory)."""

    burst: float
    per_s: float
    size: int
    _table: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)

    def take(self, key: str, now: float) -> float:
        """0 when a token was taken, else the seconds until one is there."""
        tokens, at = self._table.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.per_s)
        if tokens >= 1:
            self._put(key, tokens - 1, now)
            return 0.0
        self._put(key, tokens, now)
        return (1 - tokens) / self.per_s

    def give_back(self, key: str, now: float) -> None:
        tokens, at = self._table.pop(key, (self.burst, now))
        self._put(key, min(self.burst, tokens + (now - at) * self.per_s + 1), now)

    def _put(self, key: str, tokens: float, now: float) -> None:
        self._table[key] = (tokens, now)
        while len(self._table) > self.size:
            self._table.popitem(last=False)

    def __len__(self) -> int:
        return len(self._table)


def _lower_priority(nice: int) -> None:
    """Give this login thread, and the lane threads argon2 starts from it (they inherit it), a
    lower CPU priority than the event loop: when the cores are busy, verification runs first
    and logins wait. Linux scopes nice to a thread; elsewhere this is a no-op."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not permitted
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class LoginThrottle:
    """The Hub's login budget; thread-safe. ``admit`` before the password check, ``succeeded``
    after a right one."""

    def __init__(self, settings: LoginSettings) -> None:
        self.settings = settings
        self.emails = Buckets(
            settings.email_burst, settings.email_per_min / 60, settings.table_size
        )
        self.addresses = Buckets(
            settings.address_burst, settings.address_per_min / 60, settings.table_size
        )
        self._lock = threading.Lock()
        # argon2 runs here, never in the pool every other sync route shares: a login storm
        # queues behind these few threads, and the queue itself is bounded (``slots``).
        self.executor = ThreadPoolExecutor(
            settings.workers,
            thread_name_prefix="stk-login",
            initializer=_lower_priority,
            initargs=(settings.nice,),
        )
        self.slots = threading.BoundedSemaphore(settings.workers + settings.queue)

    @staticmethod
    def email_key(email: str) -> str:
        normal = email.strip().lower().encode("utf-8", "surrogatepass")
        return hashlib.sha256(normal).hexdigest()

    def admit(self, email: str, address: str) -> int:
        """0 when the attempt may go on (a token taken from both buckets), else the whole
        seconds to wait (``Retry-After``)."""
        now = time.monotonic()
        key = self.email_key(email)
        with self._lock:
            wait = self.addresses.take(address, now)
            if wait:
                return math.ceil(wait)
            wait = self.emails.take(key, now)
            if wait:
                self.addresses.give_back(address, now)
                return math.ceil(wait)
        return 0

    def succeeded(self, email: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self.emails.give_back(self.email_key(email), now)
            self.addresses.give_back(address, now)
