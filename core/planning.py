"""Plans: changes classified by the diff rules, with the SQL the engine renders for each.

The user's rule is absolute (schema.md §5): a plan holding any destructive or unsupported change
is blocked as a whole. There is no force flag, here or anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .changes import Change
from .contracts import DiffRule, RuleContext, Verdict
from .diff import diff_connection
from .ir import ConnectionSchema

Classification = Literal["safe", "destructive", "unsupported"]
_SEVERITY = {"safe": 0, "destructive": 1, "unsupported": 2}


@dataclass(frozen=True)
class PlannedChange:
    change: Change
    classification: Classification = "safe"
    code: str = ""
    reason: str = ""
    remedy: str = ""
    sql: str = ""

    @property
    def blocked(self) -> bool:
        return self.classification != "safe"

    def to_json(self) -> dict[str, Any]:
        return {
            **self.change.to_json(),
            "description": self.change.describe(),
            "class": self.classification,
            "code": self.code,
            "reason": self.reason,
            "remedy": self.remedy,
            "sql": self.sql,
        }


@dataclass(frozen=True)
class ConnectionPlan:
    connection: str
    changes: tuple[PlannedChange, ...] = ()
    declared: ConnectionSchema | None = None
    actual: ConnectionSchema | None = None

    @property
    def declared_digest(self) -> str:
        """Fingerprint of the declared IR (computed on demand: only --json shows it)."""
        return self.declared.fingerprint if self.declared else ""

    @property
    def actual_digest(self) -> str:
        """Fingerprint of the introspected database state the plan was made from."""
        return self.actual.fingerprint if self.actual else ""

    @property
    def blocked(self) -> list[PlannedChange]:
        return [c for c in self.changes if c.blocked]

    @property
    def is_blocked(self) -> bool:
        return bool(self.blocked)

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def summary(self) -> str:
        n_safe = len(self.changes) - len(self.blocked)
        return f"{n_safe} to add, {len(self.blocked)} blocked"

    def to_json(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "changes": [c.to_json() for c in self.changes],
            "summary": self.summary(),
            "blocked": self.is_blocked,
            "fingerprints": {"declared": self.declared_digest, "actual": self.actual_digest},
        }


def judge(change: Change, context: RuleContext, rules: Iterable[object]) -> Verdict | None:
    """The most severe verdict any rule gives (unsupported beats destructive), or None."""
    worst: Verdict | None = None
    for rule in rules:
        if not isinstance(rule, DiffRule):
            continue
        verdict = rule.check(change, context)
        if verdict and (
            worst is None or _SEVERITY[verdict.classification] > _SEVERITY[worst.classification]
        ):
            worst = verdict
    return worst


def classify(
    changes: Sequence[Change],
    context: RuleContext,
    rules: Iterable[object],
    render: Callable[[Change], str],
) -> tuple[PlannedChange, ...]:
    rules = list(rules)
    out = []
    for change in changes:
        sql = render(change)
        verdict = judge(change, context, rules)
        if verdict is None:
            out.append(PlannedChange(change, "safe", sql=sql))
        else:
            out.append(
                PlannedChange(
                    change,
                    verdict.classification,
                    verdict.code,
                    verdict.reason,
                    verdict.remedy.replace("{sql}", sql),
                    sql,
                )
            )
    return tuple(out)


def make_plan(
    context: RuleContext,
    rules: Iterable[object],
    render: Callable[[Change], str],
    moved_to: dict[str, str] | None = None,
) -> ConnectionPlan:
    """Diff ``context.declared`` against ``context.actual`` and classify every change."""
    changes = diff_connection(context.declared, context.actual, context.previous, moved_to)
    return ConnectionPlan(
        context.connection,
        classify(changes, context, rules, render),
        declared=context.declared,
        actual=context.actual,
    )
