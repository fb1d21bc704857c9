"""Plans: changes classified by the diff rules, with the SQL the engine renders for each.

The user's rule is absolute (schema.md §5): a plan holding any destructive or unsupported change
is blocked as a whole. There is no force flag, here or anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from . import changes as ch
from .changes import Change
from .contracts import DiffRule, RuleContext, Verdict
from .diff import diff_connection
from .drift import is_repair
from .ir import ConnectionSchema

# Safe changes that add something; every other safe change alters what exists.
_ADDS = {"create_table", "add_column", "create_index", "add_unique", "add_foreign_key"}

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
    repair: bool = False  # restores what this env applied and someone changed by hand
    # A probable rename this change is half of: (old target, new target, the RENAME SQL).
    rename: tuple[str, str, str] | None = None

    @property
    def blocked(self) -> bool:
        return self.classification != "safe"

    def describe(self) -> str:
        if self.rename is not None:
            old, new, _ = self.rename
            return f"probable rename {old} -> {new} (planned as {self.change.describe()})"
        return self.change.describe()

    def to_json(self) -> dict[str, Any]:
        out = {
            **self.change.to_json(),
            "description": self.describe(),
            "class": self.classification,
            "code": self.code,
            "reason": self.reason,
            "remedy": self.remedy,
            "sql": self.sql,
            "repair": self.repair,
        }
        if self.rename is not None:
            out["probableRename"] = dict(zip(("from", "to", "sql"), self.rename, strict=True))
        return out


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
        """``2 to add, 1 to change, 1 blocked``: what apply would do, in words that fit."""
        if not self.changes:
            return "no changes"
        safe = [c for c in self.changes if not c.blocked]
        adds = sum(1 for c in safe if c.change.kind in _ADDS)
        parts = [f"{adds} to add"]
        if len(safe) > adds:
            parts.append(f"{len(safe) - adds} to change")
        parts.append(f"{len(self.blocked)} blocked")
        repairs = sum(1 for c in safe if c.repair)
        tail = f"; {repairs} drift repair{'s' if repairs > 1 else ''}" if repairs else ""
        return ", ".join(parts) + tail

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
            # a lint-only rule has nothing to say about changes; a rule that is neither was
            # refused when the plugins were collected (SantokitPlugins.diff_rules)
            continue
        verdict = rule.check(change, context)
        if verdict and (
            worst is None or _SEVERITY[verdict.classification] > _SEVERITY[worst.classification]
        ):
            worst = verdict
    return worst


def probable_renames(changes: Sequence[Change], context: RuleContext) -> dict[Change, Change]:
    """Each drop paired with an add that looks like its new name (schema.md §5: renames are
    never guessed, but reported). Maps both halves to the rename that would replace them.

    A column: dropped and added in one table with the same type. A table: dropped while a table
    with the same id and the same columns (names and types) is created."""
    out: dict[Change, Change] = {}
    adds = [c for c in changes if isinstance(c, ch.AddColumn)]
    for drop in changes:
        if isinstance(drop, ch.DropColumn):
            table = context.actual.table(drop.table)
            old = table.column(drop.column) if table else None
            if old is None:
                continue
            for add in adds:
                if (
                    add.table == drop.table
                    and add not in out
                    and (add.definition.type, add.definition.items) == (old.type, old.items)
                ):
                    rename = ch.RenameColumn(
                        table=drop.table, column=drop.column, new_name=add.column
                    )
                    out[drop] = out[add] = rename
                    break
    creates = [c for c in changes if isinstance(c, ch.CreateTable)]
    for drop in changes:
        if isinstance(drop, ch.DropTable):
            old_table = context.actual.table(drop.table)
            if old_table is None:
                continue
            shape = (old_table.id, {(c.name, c.type) for c in old_table.columns})
            for create in creates:
                new = create.definition
                if create not in out and (new.id, {(c.name, c.type) for c in new.columns}) == (
                    shape
                ):
                    out[drop] = out[create] = ch.RenameTable(table=drop.table, new_name=new.name)
                    break
    return out


def _rename_target(rename: Change) -> tuple[str, str]:
    if isinstance(rename, ch.RenameColumn):
        return rename.target, f"{rename.table}.{rename.new_name}"
    assert isinstance(rename, ch.RenameTable)
    return rename.table, rename.new_name


def classify(
    changes: Sequence[Change],
    context: RuleContext,
    rules: Iterable[object],
    render: Callable[[Change], str],
) -> tuple[PlannedChange, ...]:
    rules = list(rules)
    renames = probable_renames(changes, context)
    out = []
    for change in changes:
        sql = render(change)
        verdict = judge(change, context, rules)
        repair = is_repair(change, context.declared, context.previous)
        rename = None
        if change in renames:
            old, new = _rename_target(renames[change])
            rename = (old, new, render(renames[change]))
        if verdict is None:
            out.append(PlannedChange(change, "safe", sql=sql, repair=repair, rename=rename))
            continue
        reason, remedy = verdict.reason, verdict.remedy.replace("{sql}", sql)
        if rename is not None:
            # the rename comes first, and the drop's SQL is not offered: following the
            # remedy must never delete data the operator meant to keep
            reason = f"probable rename of {rename[0]} to {rename[1]}; as planned: {reason}"
            remedy = (
                f"if {rename[0]} was renamed to {rename[1]}, rename it yourself, then re-run: "
                f"{rename[2]} ; if {rename[1]} really is new, keep {rename[0]} declared (its "
                "data stays) or remove it by hand first"
            )
        out.append(
            PlannedChange(
                change,
                verdict.classification,
                verdict.code,
                reason,
                remedy,
                sql,
                repair=repair,
                rename=rename,
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
