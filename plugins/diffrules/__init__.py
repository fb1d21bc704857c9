"""The default diff rules: the safety table of schema.md §5 with its stable codes.

Each rule blocks one family of changes with a reason and a remedy: the SQL an operator would run
by hand (``{sql}``), printed and never executed. Anything no rule blocks is safe.
"""

from __future__ import annotations

from dataclasses import dataclass

from santokit.core import changes as ch
from santokit.core.contracts import RuleContext, Verdict
from santokit.core.plugins import hookimpl


def _column_exists(context: RuleContext, table: str, column: str) -> bool:
    actual = context.actual.table(table)
    if actual is None:
        return False
    return actual.id.name == column or actual.column(column) is not None


@dataclass(frozen=True)
class DropTableRule:
    code: str = "DS101"

    def check(self, change: ch.Change, context: RuleContext) -> Verdict | None:
        if isinstance(change, ch.DropTable):
            return Verdict(
                "destructive",
                self.code,
                f"table {change.table} is no longer declared; dropping it deletes its rows",
                "keep the table in schema/*.yaml, or drop it yourself and re-run: {sql}",
            )
        return None


@dataclass(frozen=True)
class DropColumnRule:
    code: str = "DS102"

    def check(self, change: ch.Change, context: RuleContext) -> Verdict | None:
        if isinstance(change, ch.DropColumn):
            return Verdict(
                "destructive",
                self.code,
                f"column {change.target} is not declared; dropping it deletes its data (a "
                "renamed column is a drop plus an add)",
                "declare the column again, or drop it yourself and re-run: {sql}",
            )
        return None


@dataclass(frozen=True)
class DropConstraintRule:
    code: str = "DS103"

    def check(self, change: ch.Change, context: RuleContext) -> Verdict | None:
        what = {
            ch.DropIndex: "index",
            ch.DropUnique: "unique constraint",
            ch.DropForeignKey: "foreign key",
        }.get(type(change))
        if what is None:
            return None
        return Verdict(
            "destructive",
            self.code,
            f"the {what} on {change.target} differs from the declaration and would be dropped",
            "declare it as it is, or drop it yourself and re-run: {sql}",
        )


@dataclass(frozen=True)
class SetNotNullRule:
    code: str = "MF101"

    def check(self, change: ch.Change, context: RuleContext) -> Verdict | None:
        if isinstance(change, ch.SetNotNull):
            return Verdict(
                "destructive",
                self.code,
                f"{change.target} may hold NULL in existing rows",
                "fill every NULL of the column, then run by hand and re-run: {sql}",
            )
        return None


@dataclass(frozen=True)
class AddNotNullColumnRule:
    code: str = "MF102"

    def check(self, change: ch.Change, context: RuleContext) -> Verdict | None:
        if (
            isinstance(change, ch.AddColumn)
            and not change.definition.nullable
            and (change.definition.default is None)
        ):
            return Verdict(
                "destructive",
                self.code,
                f"{change.target} is not nullable and has no default: existing rows would have "
                "no value",
                "give the column a default, or add it as nullable, fill it, and make it not null "
                "by hand: {sql}",
            )
        return None


@dataclass(frozen=True)
class ConstrainExistingColumnRule:
    code: str = "MF103"

    def check(self, change: ch.Change, context: RuleContext) -> Verdict | None:
        match change:
            case ch.AddUnique() | ch.AddForeignKey():
                column = change.column if isinstance(change, ch.AddUnique) else change.fk.column
                what = "unique constraint" if isinstance(change, ch.AddUnique) else "foreign key"
                if not _column_exists(context, change.table, column):
                    return None
            case ch.CreateIndex(index=index) if index.unique:
                if not any(_column_exists(context, change.table, c) for c in index.columns):
                    return None
                what = "unique index"
            case _:
                return None
        return Verdict(
            "destructive",
            self.code,
            f"a {what} on existing data of {change.target}: its rows may violate it",
            "check the rows satisfy it, then run by hand and re-run: {sql}",
        )


@dataclass(frozen=True)
class UnsupportedRule:
    """Type changes, id changes and moves between connections: never automatic."""

    code: str = "UN1xx"

    def check(self, change: ch.Change, context: RuleContext) -> Verdict | None:
        match change:
            case ch.AlterColumnType():
                return Verdict(
                    "unsupported",
                    "UN101",
                    f"{change.describe()}: Santokit never changes a column's type",
                    "add a new column of the new type, copy the data, and drop the old column "
                    "by hand; or convert in place by hand: {sql}",
                )
            case ch.ChangeId():
                return Verdict(
                    "unsupported",
                    "UN102",
                    f"{change.describe()}: an id's name, type and generation are fixed once "
                    "applied",
                    "keep the id as it was, or create a new table and copy the rows by hand",
                )
            case ch.MoveTable():
                return Verdict(
                    "unsupported",
                    "UN103",
                    f"{change.describe()}: a table cannot move between databases",
                    "keep the table on its connection, or copy it to the other database by hand "
                    "and declare it under a new name",
                )
        return None


RULES = (
    DropTableRule(),
    DropColumnRule(),
    DropConstraintRule(),
    SetNotNullRule(),
    AddNotNullColumnRule(),
    ConstrainExistingColumnRule(),
    UnsupportedRule(),
)


@hookimpl
def santokit_diff_rules() -> list[object]:
    return list(RULES)
