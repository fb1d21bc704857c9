"""The apply route's work: validate, plan and apply the schema, then release (schema.md §6-§7).

Order matters and is the product's promise: the files are validated before anything touches a
database; with the release step, drift is checked on every connection before any DDL; a plan with
any blocked change stops the whole apply; each connection is applied in its own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

from santokit.core.compat import after_apply
from santokit.core.contracts import AppliedRecord, EngineSession, StoreTransaction
from santokit.core.drift import DriftItem, change_object
from santokit.core.errors import (
    Conflict,
    DriftDetected,
    SantokitError,
    StoreError,
    ValidationFailed,
)
from santokit.core.ir import ConnectionSchema, Schema, digest
from santokit.core.perf import gc_paused
from santokit.core.permissions import Policy
from santokit.core.planning import ConnectionPlan
from santokit.core.release import Release
from santokit.core.validation import Snapshot, validate_snapshot

from .errors import ApiError
from .ownership import Target, Targets, applied_schemas, stamp
from .service import Hub, Operator

STEPS = ("schema", "permissions", "release")


def _decode_files(files: Mapping[str, str]) -> dict[str, bytes]:
    return {name: text.encode("utf-8") for name, text in files.items()}


def _moves(declared: Schema, previous: dict[str, ConnectionSchema]) -> dict[str, dict[str, str]]:
    """For each connection, the applied tables now declared on another connection."""
    where = {t.name: conn for conn, t in declared.tables()}
    out: dict[str, dict[str, str]] = {}
    for conn, prev in previous.items():
        for table in prev.tables:
            if table.name in where and where[table.name] != conn:
                out.setdefault(conn, {})[table.name] = where[table.name]
    return out


def _with_repair(item: DriftItem, plan: ConnectionPlan) -> DriftItem:
    """The item with the SQL that restores it, and whether ``--only schema`` would run it:
    only when its changes are safe and the connection's plan is not blocked as a whole."""
    mine = [
        c
        for c in plan.changes
        if c.change.table == item.table and change_object(c.change) == (item.object, item.name)
    ]
    if not mine:
        return item
    safe = not plan.is_blocked and not any(c.blocked for c in mine)
    return replace(item, repair_sql=tuple(c.sql for c in mine), repair_safe=safe)


class ApplyRun:
    def __init__(
        self,
        hub: Hub,
        operator: Operator,
        project: str,
        env: str,
        body: dict[str, Any],
        request_id: str,
    ) -> None:
        self.hub, self.operator, self.project, self.env = hub, operator, project, env
        self.ref = body["ref"]
        self.only = list(body.get("only") or STEPS)
        self.dry_run = bool(body.get("dryRun"))
        self.snapshot = body["snapshot"]
        self.request_id = request_id
        self.refusals: list[SantokitError] = []
        self.out: dict[str, Any] = {}
        # one session per database for the whole run, its catalog read once: the plan, the
        # drift gate and the release step's check are all answered from that read
        self._stack = ExitStack()
        self._sessions: dict[tuple[str, str, str], EngineSession] = {}
        self._live: dict[str, ConnectionPlan] | None = None
        self._converged: set[str] = set()  # connections whose apply committed in this run
        if body.get("only") is not None and not body["only"]:
            raise ApiError("BAD_REQUEST", f"only names no step; steps are {', '.join(STEPS)}")
        unknown = [s for s in self.only if s not in STEPS]
        if unknown:
            raise ApiError(
                "BAD_REQUEST", f"unknown step {unknown[0]!r}; steps are {', '.join(STEPS)}"
            )

    # -- inputs --------------------------------------------------------------------------------
    def _validated(self) -> tuple[Schema, Policy]:
        files = _decode_files(self.snapshot.get("schemaFiles") or {})
        if not files:
            raise ApiError("BAD_REQUEST", "the snapshot holds no schema files")
        perms_text = self.snapshot.get("permissionsFile")
        perms = perms_text.encode() if perms_text is not None else None
        result = validate_snapshot(Snapshot(files, perms), self.hub.rules())
        if not result.ok:
            raise ValidationFailed(result.findings)
        return result.schema, result.policy

    def _compiled(self, schema: Schema, policy: Policy) -> dict[str, Any]:
        """Every compiler's artifact, keyed by compiler name (permissions.md §4)."""
        return {c.name: c.compile(policy, schema) for c in self.hub.compilers()}

    def _targets(self, schema: Schema) -> Targets:
        """connection name -> (url, db schema, engine) for every declared connection."""
        out: Targets = {}
        with self.hub.store.tx() as tx:
            rows = {r["name"]: r for r in tx.connections(self.project, self.env)}
        for conn in schema.connections:
            row = rows.get(conn.name)
            if row is None:
                raise ApiError(
                    "NOT_FOUND",
                    (
                        f"the schema uses connection {conn.name}, which is not registered for env "
                        f"{self.env}: run stk connections set --name {conn.name} "
                        f"--engine {self.hub.engine_option()} --db-url ..."
                    ),
                )
            out[conn.name] = (
                self.hub.connection_url(row),
                row["db_schema"],
                self.hub.engine(row["engine"]),
            )
        return out

    def _applied(self, targets: Targets) -> dict[str, ConnectionSchema]:
        """The store's applied schemas, corrected from the databases' own records."""
        return applied_schemas(
            self.hub, self.project, self.env, targets, self.operator.email, self.request_id
        )

    def _session(self, target: Target) -> EngineSession:
        """The run's session on a target's database, opened on first use and kept to the end of
        the run. A run that applies the schema opens it for writing: the apply lock is held
        from the first read to the last DDL, so what was judged is what runs."""
        url, db_schema, engine = target
        key = (engine.name, url, db_schema)
        if key not in self._sessions:
            write = not self.dry_run and "schema" in self.only
            opened = engine.open(url, schema=db_schema, write=write)
            self._sessions[key] = self._stack.enter_context(opened)
        return self._sessions[key]

    def _plans(
        self,
        schema: Schema,
        targets: Targets,
        applied: dict[str, ConnectionSchema],
        moves: dict[str, dict[str, str]],
    ) -> dict[str, ConnectionPlan]:
        """The live plan of every declared connection, from the run's one read of each (the
        first call reads; ``applied`` and ``moves`` are those the run started with)."""
        if self._live is None:
            rules = self.hub.rules()
            plans = {}
            for name, target in sorted(targets.items()):
                declared = schema.connection(name)
                assert declared is not None
                with gc_paused():  # diffing builds many acyclic objects
                    plans[name] = self._session(target).plan(
                        declared, applied.get(name), rules, moved_to=moves.get(name)
                    )
            self._live = plans
        return self._live

    def _record_applied(
        self, tx: StoreTransaction, name: str, declared: ConnectionSchema, at: str | None = None
    ) -> None:
        tx.record_applied(
            self.project,
            self.env,
            name,
            json.dumps(declared.to_json(), sort_keys=True),
            declared.fingerprint,
            at=at,
        )

    # -- steps ---------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        schema, policy = self._validated()
        permissions = self._compiled(schema, policy) if "permissions" in self.only else None
        targets = self._targets(schema)
        out: dict[str, Any] = {
            "ref": self.ref,
            "dryRun": self.dry_run,
            "only": self.only,
            "validation": {"ok": True},
            "releaseId": None,
            "reused": None,
        }
        self.out = out
        # every database session of the run (and its apply lock) ends inside the env's guard
        with self.hub.env_guard(self.project, self.env), self._stack:
            applied = self._applied(targets)  # under the guard: an apply may just have ended
            moves = _moves(schema, applied)
            carried = "release" in self.only and "permissions" not in self.only
            if carried:
                # before any DDL: a release with nothing to carry refuses the whole run
                permissions = self._carried_permissions()
            if "schema" in self.only or "release" in self.only:
                # the one read of each database, of every table the plan manages (the drift
                # gate's tables are among them), before any DDL
                self._plans(schema, targets, applied, moves)
            if "release" in self.only:
                out["drift"] = self._drift_gate(schema, targets, applied)
            if "schema" in self.only:
                out["schema"] = self._schema_step(schema, targets, applied, moves)
            if "permissions" in self.only:
                tables = [t.table for t in policy.tables]
                out["permissions"] = {
                    "ok": True,
                    "tables": tables,
                    "artifacts": sorted(permissions or {}),
                    "digest": digest(permissions),
                }
                if not self.dry_run:
                    with self.hub.store.tx() as tx:
                        tx.audit(
                            "permissions.apply",
                            self.operator.email,
                            self.request_id,
                            project=self.project,
                            env=self.env,
                            detail={"ref": self.ref, "tables": tables},
                        )
            if "release" in self.only:
                if carried:
                    out["permissionsCarried"] = True
                out.update(self._release_step(schema, permissions, targets, applied, moves))
        if self.refusals:
            # the dry run went on to show everything; now it says why the real run would stop
            first = self.refusals[0]
            out["refusals"] = [
                {"code": r.code, "message": r.message, "details": r.details} for r in self.refusals
            ]
            raise ApiError(
                first.code,
                f"dry run: the real run would be refused: {first.message}",
                details=first.details,
                result=out,
            )
        return out

    def _refuse(self, err: SantokitError) -> None:
        """A real run stops at the first refusal, carrying what it computed so far (the plan
        is printed in full either way); a dry run notes it and goes on (cli.md: a dry run
        always shows the whole plan)."""
        if not self.dry_run:
            err.result = self.out  # type: ignore[attr-defined]
            raise err
        self.refusals.append(err)

    def _suggest(self, command: str) -> str:
        """A command to suggest: itself a dry run when the operator asked for one."""
        return f"{command} --dry-run" if self.dry_run else command

    def _drift_gate(
        self,
        schema: Schema,
        targets: Targets,
        applied: dict[str, ConnectionSchema],
    ) -> list[dict[str, Any]]:
        items = []
        # the schema step whole (project, env, ref), so the way out works when pasted
        step = self._suggest(
            f"stk apply --project {self.project} --env {self.env} --only schema --ref {self.ref}"
        )
        for name, target in sorted(targets.items()):
            before = applied.get(name)
            declared = schema.connection(name)
            if before is None or declared is None:
                continue
            session = self._session(target)
            found = session.drift(before, declared)
            if found:
                # each item's way back is read off the plan `--only schema` would run, so it
                # names that command only for repairs it really applies
                plan = session.plan(declared, before, self.hub.rules())
                found = [_with_repair(i, plan) for i in found]
            items += [i.to_json(schema_step=step) for i in found]
        if items:
            self._refuse(
                DriftDetected(
                    f"{len(items)} object(s) in the database differ from what was applied and "
                    "from the declaration; no release was made. Change schema/*.yaml to match "
                    "the database, or restore the database (each object's way out says how), "
                    "then apply again",
                    details=items,
                )
            )
        return items

    def _schema_step(
        self,
        schema: Schema,
        targets: Targets,
        applied: dict[str, ConnectionSchema],
        moves: dict[str, dict[str, str]],
    ) -> dict[str, Any]:
        rules = self.hub.rules()
        plans = self._plans(schema, targets, applied, moves)
        blocked = [c.to_json() | {"connection": n} for n, p in plans.items() for c in p.blocked]
        with gc_paused():  # the plans' JSON and fingerprints: many acyclic objects
            result: dict[str, Any] = {"connections": {n: p.to_json() for n, p in plans.items()}}
        self.out["schema"] = result
        if blocked:
            self._refuse(
                ApiError(
                    "CHANGE_BLOCKED",
                    (
                        f"the plan holds {len(blocked)} destructive or unsupported change(s); "
                        "nothing was applied"
                    ),
                    details=blocked,
                )
            )
        if "release" not in self.only and any(p.changes for p in plans.values()):
            self._keep_current_servable(schema)
        if self.dry_run:
            return result
        for name, target in sorted(targets.items()):
            declared = schema.connection(name)
            assert declared is not None
            at = stamp()
            record = AppliedRecord(
                self.project,
                self.env,
                name,
                declared,
                self.ref,
                self.operator.email,
                self.request_id,
                at,
            )
            # the plan read under this session's lock is the one that runs
            done = self._session(target).apply(
                declared,
                applied.get(name),
                rules,
                plan=plans[name],
                moved_to=moves.get(name),
                record=record,
            )
            self._converged.add(name)  # its convergence check passed: nothing is pending
            result["connections"][name] = done.to_json()
            self._store_applied(name, declared, at, len(done.applied))
            applied[name] = declared
        return result

    def _store_applied(self, name: str, declared: ConnectionSchema, at: str, changes: int) -> None:
        """The store's copy of a committed apply, audited; when the store cannot take it the
        database's ``stk_applied`` row (same ``at``) is the record the next request adopts."""
        try:
            with self.hub.store.tx() as tx:
                self._record_applied(tx, name, declared, at)
                tx.audit(
                    "schema.apply",
                    self.operator.email,
                    self.request_id,
                    project=self.project,
                    env=self.env,
                    detail={"connection": name, "ref": self.ref, "changes": changes},
                )
        except StoreError as exc:
            raise ApiError(
                "SERVICE_UNAVAILABLE",
                (
                    f"the schema was applied to connection {name} ({changes} change(s)) but the "
                    f"Hub could not record it ({exc.reason}); the next apply or dry run of "
                    f"{self.project}/{self.env} reconciles the record from the database"
                ),
            ) from None

    def _carried_permissions(self) -> Any:
        """The release step without the permissions step releases the permissions the env
        already runs: skipping a step means "unchanged", never "take them from the files"."""
        with self.hub.store.tx() as tx:
            pointer = tx.pointer(self.project, self.env)
            row = tx.release(self.project, pointer["release_id"]) if pointer else None
        if row is None:
            steps = ",".join(s for s in STEPS if s in self.only or s == "permissions")
            self._refuse(
                Conflict(
                    f"env {self.env} has no release yet, so a release made without the "
                    "permissions step has no permissions to keep; include the step: "
                    + self._suggest(
                        f"stk apply --project {self.project} --env {self.env} --only {steps} "
                        f"--ref {self.ref}"
                    )
                )
            )
            return None
        return Release.from_json(row["snapshot"]).permissions

    def _keep_current_servable(self, schema: Schema) -> None:
        """A schema applied without a release must leave the env's current release able to run
        on its databases: the pointer always names a release its databases can serve."""
        with self.hub.store.tx() as tx:
            pointer = tx.pointer(self.project, self.env)
            row = tx.release(self.project, pointer["release_id"]) if pointer else None
        if row is None:
            return
        current = Release.from_json(row["snapshot"]).schema
        problems = []
        for conn in current.connections:
            declared = schema.connection(conn.name)
            if declared is not None:
                problems += [f"{conn.name}: {p}" for p in after_apply(conn, declared)]
        if problems:
            command = self._suggest(
                f"stk apply --project {self.project} --env {self.env} --ref {self.ref}"
            )
            self._refuse(
                ApiError(
                    "CHANGE_BLOCKED",
                    (
                        f"applying this schema without a release would leave env {self.env}'s "
                        f"current release {row['release_id']} unable to run on its database "
                        f"({'; '.join(problems)}); apply the schema and the release together "
                        f"so the pointer moves with it: {command}"
                    ),
                    details=problems,
                )
            )

    def _release_step(
        self,
        schema: Schema,
        permissions: Any,
        targets: Targets,
        applied: dict[str, ConnectionSchema],
        moves: dict[str, dict[str, str]],
    ) -> dict[str, Any]:
        plans = self._plans(schema, targets, applied, moves)
        pending = [
            f"{n}: {c.change.describe()}"
            for n, p in plans.items()
            if n not in self._converged
            for c in p.changes
        ]
        if pending and not self.dry_run:
            raise Conflict(
                "the databases do not match the declaration yet (pending changes: "
                + "; ".join(pending[:5])
                + f"); apply the schema and the release together: stk apply --project "
                f"{self.project} --env {self.env} --ref {self.ref}",
                details=pending,
            )
        release = Release.build(schema, permissions, self.ref)
        release_digest = release.digest
        if self.dry_run:
            with self.hub.store.tx() as tx:
                existing = tx.release_by_digest(self.project, release_digest)
            return {
                "release": {
                    "digest": release_digest,
                    "wouldReuse": existing is not None,
                    "releaseId": existing["release_id"] if existing else None,
                    "pendingSchemaChanges": len(pending),
                }
            }
        try:
            return self._publish(release, targets)
        except Conflict:  # the same content was released concurrently: reuse it
            return self._publish(release, targets)

    def _publish(self, release: Release, targets: Targets) -> dict[str, Any]:
        """Create or reuse the release, move the pointer, record the applied schemas: one
        store transaction, audited."""
        schema, release_digest = release.schema, release.digest
        with self.hub.store.tx() as tx:
            existing = tx.release_by_digest(self.project, release_digest)
            reused = existing is not None
            if existing is None:
                existing = tx.insert_release(
                    self.project,
                    release_digest,
                    self.ref,
                    self.operator.email,
                    release.to_snapshot(),
                )
            current = tx.pointer(self.project, self.env)
            moved = current is None or current["release_id"] != existing["release_id"]
            if moved:
                tx.move_pointer(
                    self.project, self.env, existing["release_id"], "apply", self.operator.email
                )
            if not reused or moved:
                tx.audit(
                    "release.create",
                    self.operator.email,
                    self.request_id,
                    project=self.project,
                    env=self.env,
                    detail={
                        "releaseId": existing["release_id"],
                        "ref": self.ref,
                        "reused": reused,
                        "pointerMoved": moved,
                    },
                )
            for name in targets:
                declared = schema.connection(name)
                assert declared is not None
                self._record_applied(tx, name, declared)
        return {"releaseId": existing["release_id"], "reused": reused, "digest": release_digest}
