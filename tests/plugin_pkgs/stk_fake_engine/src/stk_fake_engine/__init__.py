"""An engine for ``fakedb:///path.json`` URLs: the "database" is a JSON file holding its tables
(as IR JSON), its applied records and a log of every call, so a test can read what the Hub asked
of it. Written against ``santokit.core.contracts.Engine`` alone, as a third party would."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from santokit.core.compat import incompatibilities
from santokit.core.contracts import AppliedRecord, ApplyResult, ConnectionTest, RuleContext
from santokit.core.drift import DriftItem, drift_items
from santokit.core.errors import ChangeBlocked, ConnectionFailed
from santokit.core.ir import ConnectionSchema
from santokit.core.planning import ConnectionPlan, make_plan
from santokit.core.plugins import hookimpl

SCHEME = "fakedb"


def _path(url: str) -> Path:
    return Path(url.removeprefix(f"{SCHEME}://"))


def _load(url: str) -> dict[str, Any]:
    path = _path(url)
    if not path.parent.is_dir():
        raise ConnectionFailed("the fake database's folder does not exist")
    return json.loads(path.read_text()) if path.exists() else {"tables": {}, "records": {}}


def _save(url: str, db: dict[str, Any]) -> None:
    _path(url).write_text(json.dumps(db, sort_keys=True))


def _log(url: str, call: str) -> None:
    with open(f"{_path(url)}.calls", "a") as fh:
        fh.write(call + "\n")


class FakeSession:
    """``Engine.open``'s session: every question goes to the engine's one-shot methods (a file
    has no catalog worth reading once), which is all the contract asks."""

    def __init__(self, engine: FakeEngine, url: str, schema: str) -> None:
        self.engine, self.url, self.schema = engine, url, schema

    def plan(
        self,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        moved_to: dict[str, str] | None = None,
    ) -> ConnectionPlan:
        return self.engine.plan(
            self.url, declared, previous, rules, schema=self.schema, moved_to=moved_to
        )

    def drift(self, applied: ConnectionSchema, declared: ConnectionSchema) -> list[DriftItem]:
        return self.engine.drift(self.url, applied, declared, schema=self.schema)

    def compatibility(self, release: ConnectionSchema) -> list[str]:
        return self.engine.compatibility(self.url, release, schema=self.schema)

    def apply(
        self,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        plan: ConnectionPlan | None = None,
        moved_to: dict[str, str] | None = None,
        record: AppliedRecord | None = None,
    ) -> ApplyResult:
        return self.engine.apply(
            self.url,
            declared,
            previous,
            rules,
            schema=self.schema,
            moved_to=moved_to,
            record=record,
        )


class FakeEngine:
    name = "fake"
    display_name = "FakeDB"
    url_schemes = (SCHEME,)
    default_namespace = "main"

    def url_problem(self, url: str) -> str | None:
        return None if url.startswith(f"{SCHEME}:///") else "dbUrl must be a fakedb:/// URL"

    def test(self, url: str) -> ConnectionTest:
        _log(url, "test")
        _load(url)
        return ConnectionTest("1.0", 0.1, f"{self.display_name} 1.0")

    @contextmanager
    def open(self, url: str, *, schema: str, write: bool = False) -> Iterator[FakeSession]:
        _log(url, f"open {schema} write={write}")
        yield FakeSession(self, url, schema)

    def _actual(self, url: str, tables: Iterable[str], name: str, schema: str) -> ConnectionSchema:
        stored = _load(url)["tables"].get(schema, {})
        wanted = set(tables)
        data = {"tables": {n: t for n, t in stored.items() if n in wanted}}
        return ConnectionSchema.from_json(name, data)

    def introspect(
        self,
        url: str,
        tables: Iterable[str],
        hint: ConnectionSchema | None = None,
        *,
        schema: str,
    ) -> ConnectionSchema:
        _log(url, f"introspect {schema}")
        return self._actual(url, tables, hint.name if hint else "", schema)

    def plan(
        self,
        url: str,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        schema: str,
        moved_to: dict[str, str] | None = None,
    ) -> ConnectionPlan:
        _log(url, f"plan {schema}")
        names = {t.name for t in declared.tables} | {
            t.name for t in (previous.tables if previous else ())
        }
        actual = self._actual(url, names, declared.name, schema)
        context = RuleContext(declared.name, declared, actual, previous)
        return make_plan(context, rules, lambda c: f"-- {c.describe()}", moved_to)

    def apply(
        self,
        url: str,
        declared: ConnectionSchema,
        previous: ConnectionSchema | None = None,
        rules: Iterable[object] = (),
        *,
        schema: str,
        moved_to: dict[str, str] | None = None,
        record: AppliedRecord | None = None,
    ) -> ApplyResult:
        plan = self.plan(url, declared, previous, rules, schema=schema, moved_to=moved_to)
        _log(url, f"apply {schema}")
        if plan.is_blocked:
            raise ChangeBlocked("blocked", details=[c.to_json() for c in plan.blocked])
        db = _load(url)
        db["tables"][schema] = declared.to_json()["tables"]
        if record is not None:
            done = replace(record, changes=len(plan.changes))
            key = f"{done.project}/{done.env}/{done.connection}"
            db["records"][key] = asdict(done) | {"schema": done.schema.to_json()}
        _save(url, db)
        return ApplyResult(plan, plan.changes, 1.0)

    def applied_record(
        self, url: str, project: str, env: str, connection: str, *, schema: str
    ) -> AppliedRecord | None:
        _log(url, f"applied_record {schema}")
        raw = _load(url)["records"].get(f"{project}/{env}/{connection}")
        if raw is None:
            return None
        return AppliedRecord(
            **(raw | {"schema": ConnectionSchema.from_json(connection, raw["schema"])})
        )

    def compatibility(self, url: str, release: ConnectionSchema, *, schema: str) -> list[str]:
        actual = self._actual(url, [t.name for t in release.tables], release.name, schema)
        return incompatibilities(release, actual)

    def drift(
        self, url: str, applied: ConnectionSchema, declared: ConnectionSchema, *, schema: str
    ) -> list[DriftItem]:
        _log(url, f"drift {schema}")
        actual = self._actual(url, [t.name for t in applied.tables], applied.name, schema)
        return drift_items(applied, actual, declared)


@hookimpl
def santokit_engines() -> dict[str, object]:
    return {"fake": FakeEngine()}
