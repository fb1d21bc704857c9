"""The Hub's composition root: store, secrets, plugins, and the checks every route shares."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from santokit.core.contracts import Engine, PermissionCompiler, ReleaseStore
from santokit.core.errors import UsageError
from santokit.core.identifiers import identifier_problem
from santokit.core.plugins import SantokitPlugins, default_plugins

from . import auth
from .dbwork import DbWork
from .errors import ApiError
from .secrets import SecretBox, load_master_key


@dataclass(frozen=True)
class Operator:
    id: str
    email: str
    org_role: str
    memberships: dict[str, str]

    def role(self, project: str) -> str | None:
        return auth.project_role(self.org_role, self.memberships, project)


def check_name(kind: str, name: str) -> None:
    problem = identifier_problem(name)
    if problem:
        raise ApiError("BAD_REQUEST", f"{kind} name {problem}")


MIN_BRIDGE_TOKEN_LEN = 32


def bridge_tokens() -> tuple[str, ...]:
    """The service tokens of ``STK_BRIDGE_TOKENS`` (comma-separated: old and new while one is
    rotated). Read once, at startup; none means every ``/internal`` call is refused."""
    raw = os.environ.get("STK_BRIDGE_TOKENS", "")
    tokens = tuple(token.strip() for token in raw.split(",") if token.strip())
    short = [i for i, token in enumerate(tokens, 1) if len(token) < MIN_BRIDGE_TOKEN_LEN]
    if short:
        # these tokens guard the decrypted database URLs: a guessable one is refused outright
        raise UsageError(
            f"STK_BRIDGE_TOKENS: token {short[0]} is shorter than {MIN_BRIDGE_TOKEN_LEN} "
            "characters; make one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return tokens


@dataclass
class Hub:
    store: ReleaseStore
    box: SecretBox
    plugins: SantokitPlugins
    data_dir: Path
    bridge_tokens: tuple[str, ...] = ()  # STK_BRIDGE_TOKENS: who may call /internal
    key_touches: dict[str, float] = field(default_factory=dict)  # keyId -> monotonic time
    db_work: DbWork = field(default_factory=DbWork)  # where customer-database work runs
    _env_locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, store_url: str, data_dir: Path) -> tuple[Hub, Path | None]:
        """The Hub for a store URL; also returns the master-key file if one was just created."""
        plugins = default_plugins()
        # every engine, rule and compiler is collected and checked now: a broken plugin (or an
        # engine's bad setting) stops the start, never a request
        plugins.collect()
        store = plugins.release_store(store_url)
        if store is None:
            raise UsageError(f"no store plugin understands {store_url.split(':', 1)[0]}: URLs")
        store.migrate()
        key, created = load_master_key(data_dir)
        return cls(store, SecretBox(key), plugins, data_dir, bridge_tokens()), created

    # -- engines and rules ---------------------------------------------------------------------
    def engine(self, name: str) -> Engine:
        """The engine named ``name``; the Hub calls only what ``Engine`` declares."""
        engines = self.plugins.engines()
        if name not in engines:
            known = ", ".join(engines) or "none is installed"
            raise ApiError("BAD_REQUEST", f"unknown engine {name!r} (engines: {known})")
        return engines[name]

    def default_engine(self) -> Engine:
        """The engine of a connection that names none: the one installed, if only one is."""
        engines = list(self.plugins.engines().values())
        if len(engines) != 1:
            known = ", ".join(e.name for e in engines) or "none is installed"
            raise ApiError("BAD_REQUEST", f"name the engine (engines: {known})")
        return engines[0]

    def engine_option(self) -> str:
        """The ``--engine`` of a suggested ``stk connections set``, from the installed engines."""
        names = list(self.plugins.engines())
        return names[0] if len(names) == 1 else "ENGINE"  # the CLI names the choices itself

    def rules(self) -> list[object]:
        return self.plugins.diff_rules()

    def compilers(self) -> list[PermissionCompiler]:
        return self.plugins.permission_compilers()

    # -- auth ----------------------------------------------------------------------------------
    def operator_for(self, token: str | None) -> Operator:
        if not token:
            raise ApiError("UNAUTHORIZED", "not logged in: run stk login")
        with self.store.tx() as tx:
            row = tx.session(auth.token_hash(token))
            if row is None:
                raise ApiError(
                    "UNAUTHORIZED", "the token is not valid (logged out?): run stk login"
                )
            if row["expires_at"] <= datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"):
                raise ApiError("UNAUTHORIZED", "the session has expired: run stk login")
            return Operator(row["id"], row["email"], row["org_role"], tx.memberships(row["id"]))

    def require(self, operator: Operator, project: str, needed: str) -> None:
        if identifier_problem(project):  # never a stored name: no lookup, no echo of a long one
            raise ApiError("NOT_FOUND", f"project {project[:63]!r} does not exist")
        role = operator.role(project)
        # a project the caller has no role in gets the answer of a missing one: whether it
        # exists is not for them to learn (403 is for a role below the one needed)
        if role is None:
            raise ApiError("NOT_FOUND", f"project {project} does not exist")
        with self.store.tx() as tx:
            if tx.project(project) is None:
                raise ApiError("NOT_FOUND", f"project {project} does not exist")
        if not auth.allows(role, needed):
            raise ApiError(
                "FORBIDDEN",
                f"this needs the {needed} role in project {project} (you have {role or 'no role'})",
            )

    def require_env(self, project: str, env: str) -> None:
        if identifier_problem(project) or identifier_problem(env):
            raise ApiError(
                "NOT_FOUND", f"env {env[:63]!r} does not exist in project {project[:63]!r}"
            )
        with self.store.tx() as tx:
            if tx.env(project, env) is None:
                raise ApiError("NOT_FOUND", f"env {env} does not exist in project {project}")

    # -- connections ---------------------------------------------------------------------------
    def connection_url(self, row: dict[str, Any]) -> str:
        context = f"{row['project']}/{row['env']}/{row['name']}"
        if row["key_id"] != self.box.key_id:
            raise ApiError(
                "SERVICE_UNAVAILABLE",
                (
                    f"connection {row['name']} was stored under another master key (key id "
                    f"{row['key_id']}, this Hub has {self.box.key_id}): start the Hub with that "
                    "STK_HUB_MASTER_KEY, or set the connection again"
                ),
            )
        return self.box.decrypt(row["url_ciphertext"], context)

    @contextmanager
    def env_guard(self, project: str, env: str, *, wait_s: float = 0.0) -> Iterator[None]:
        """Serialize applies and pointer moves of one env: in this process, and across the
        Hub replicas that share a PostgreSQL store. CONFLICT when not had within ``wait_s``."""
        with self._locks_guard:
            lock = self._env_locks.setdefault((project, env), threading.Lock())
        acquired = lock.acquire(timeout=wait_s) if wait_s > 0 else lock.acquire(blocking=False)
        if not acquired:
            raise ApiError(
                "CONFLICT", f"another apply is running on {project}/{env} (or a release move)"
            )
        try:
            with self.store.env_lock(project, env, wait_s):
                yield
        finally:
            lock.release()
