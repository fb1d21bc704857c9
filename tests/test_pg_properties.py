"""The core promise, for all inputs: apply, then plan again: empty; safe evolution keeps every row.

Each hypothesis example works in a fresh Postgres schema of the test's database.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from santokit.core import naming
from santokit.core.ir import Column, ConnectionSchema, Index, Table
from santokit.plugins.diffrules import RULES
from santokit.plugins.postgres.engine import PostgresEngine
from santokit.plugins.postgres.render import ident

from .strategies import columns, connection_schemas, defaults, plain_names

ENGINE = PostgresEngine()
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
_counter = itertools.count()


def fresh_schema(url: str) -> str:
    name = f"s{next(_counter)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"drop schema if exists {name} cascade; create schema {name}".encode())
    return name


@st.composite
def single_connection(draw: st.DrawFn) -> ConnectionSchema:
    names = draw(st.lists(plain_names, min_size=1, max_size=5, unique=True))
    return draw(connection_schemas("main", names))


@SETTINGS
@given(schema=single_connection())
def test_apply_then_plan_is_empty_and_introspection_equals_declaration(database, schema) -> None:
    ns = fresh_schema(database)
    ENGINE.apply(database, schema, None, RULES, schema=ns)
    again = ENGINE.plan(database, schema, schema, RULES, schema=ns)
    assert again.is_empty, [c.change.describe() for c in again.changes]
    assert ENGINE.introspect(database, [t.name for t in schema.tables], schema, schema=ns) == schema


# -- rows ----------------------------------------------------------------------------------------


def _value(type_name: str, i: int) -> str:
    """A SQL literal of the logical type, the same for the same ``i`` in every table, so a
    foreign key column holding value(i) points at the referenced row i."""
    return {
        "string": f"'v{i}'",
        "file": f"'f{i}'",
        "int": str(i + 1),
        "bigint": str(i + 1),
        "float": f"{i}.5",
        "decimal": f"{i}.25",
        "boolean": "true" if i % 2 else "false",
        "json": f"'{{\"i\": {i}}}'",
        "array": f"'[{i}]'",
        "timestamp": f"'2020-01-0{i + 1}T00:00:00Z'",
        "bytes": f"'\\x0{i}'",
    }[type_name]


def fill(url: str, ns: str, schema: ConnectionSchema, n: int = 2) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set session_replication_role = replica")  # values are consistent at the end
        for table in schema.tables:
            cols = [table.id, *table.columns]
            names = ", ".join(ident(c.name) for c in cols)
            for i in range(n):
                values = ", ".join(_value(c.type, i) for c in cols)
                conn.execute(
                    f"insert into {ident(ns)}.{ident(table.name)} ({names}) "
                    f"values ({values})".encode()
                )


def snapshot(url: str, ns: str, schema: ConnectionSchema) -> dict[str, list[tuple]]:
    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for table in schema.tables:
            cols = [table.id.name, *(c.name for c in table.columns)]
            sql = (
                f"select {', '.join(ident(c) + '::text' for c in cols)} from "
                f"{ident(ns)}.{ident(table.name)} order by {ident(table.id.name)}"
            )
            out[table.name] = conn.execute(sql.encode()).fetchall()
    return out


# -- safe evolution ------------------------------------------------------------------------------


@st.composite
def safe_evolution(draw: st.DrawFn, base: ConnectionSchema) -> ConnectionSchema:
    taken = {t.name for t in base.tables}
    tables = []
    for table in base.tables:
        cols = []
        for col in table.columns:
            if draw(st.booleans()):
                col = replace(col, nullable=True)
            if draw(st.booleans()):
                col = replace(col, default=draw(defaults(col.type, col.items)))
            cols.append(col)
        used = {table.id.name, *(c.name for c in cols)}
        for name in draw(
            st.lists(
                plain_names.filter(lambda n, u=frozenset(used): n not in u), max_size=2, unique=True
            )
        ):
            new = draw(columns(name))
            # nullable, or with a default; unique only while every row holds NULL
            new = replace(new, nullable=True) if new.default is None else replace(new, unique=False)
            cols.append(new)
        indexes = list(table.indexes)
        existing = [table.id.name, *(c.name for c in table.columns)]
        if draw(st.booleans()):
            on = tuple(
                draw(st.lists(st.sampled_from(existing), min_size=1, max_size=2, unique=True))
            )
            name = naming.index_name(table.name, on, unique=False)
            if all(i.name != name and i.columns != on for i in indexes):
                indexes.append(Index(name, on, False))
        tables.append(Table(table.name, table.id, tuple(cols), tuple(indexes), table.foreign_keys))
    new_names = draw(
        st.lists(plain_names.filter(lambda n: n not in taken), max_size=2, unique=True)
    )
    if new_names:
        tables += draw(connection_schemas("main", new_names)).tables
    return ConnectionSchema("main", tuple(tables))


def _no_unique_on_defaults(schema: ConnectionSchema) -> bool:
    return all(not (c.unique and c.default is not None) for t in schema.tables for c in t.columns)


@SETTINGS
@given(data=st.data(), base=single_connection())
def test_safe_evolution_on_rows_converges_and_keeps_every_value(database, data, base) -> None:
    ns = fresh_schema(database)
    ENGINE.apply(database, base, None, RULES, schema=ns)
    fill(database, ns, base)
    before = snapshot(database, ns, base)
    evolved = data.draw(safe_evolution(base))
    plan = ENGINE.plan(database, evolved, base, RULES, schema=ns)
    assert not plan.is_blocked, [c.to_json() for c in plan.blocked]
    ENGINE.apply(database, evolved, base, RULES, schema=ns)
    assert ENGINE.plan(database, evolved, evolved, RULES, schema=ns).is_empty
    names = [t.name for t in evolved.tables]
    assert ENGINE.introspect(database, names, evolved, schema=ns) == evolved
    assert snapshot(database, ns, base) == before
    _ = Column  # the IR type of what was compared


assert _no_unique_on_defaults  # used by readers of the strategy above
