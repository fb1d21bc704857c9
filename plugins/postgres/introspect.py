"""Introspection: the managed tables of one Postgres schema, read back into the IR.

A fixed number of set-based catalog queries (three, whatever the number of tables), never one
per table. What Postgres stores is mapped back to logical types with the declaration as a hint:
``text`` is a ``file`` column when the declaration says so, ``jsonb`` an ``array`` of the declared
items. A database type with no logical counterpart is kept as ``pg:<type>`` and so always differs.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import psycopg

from santokit.core.ir import (
    STRING_ID_GENERATORS,
    Column,
    ConnectionSchema,
    Default,
    ForeignKey,
    IdColumn,
    Index,
    Table,
)
from santokit.core.logical import LOGICAL
from santokit.core.perf import gc_paused

from .types import LOGICAL_OF

log = logging.getLogger("santokit.postgres")

COLUMNS_SQL = """
select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       a.attidentity, pg_get_expr(d.adbin, d.adrelid)
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
left join pg_attrdef d on d.adrelid = c.oid and d.adnum = a.attnum
where c.relkind in ('r', 'p') and n.nspname = %(schema)s and c.relname = any(%(tables)s)
order by c.relname, a.attnum
"""

CONSTRAINTS_SQL = """
select c.relname, con.conname, con.contype,
       array(select a.attname from unnest(con.conkey) with ordinality k(num, ord)
             join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num
             order by k.ord),
       fn.nspname, fc.relname,
       array(select a.attname from unnest(con.confkey) with ordinality k(num, ord)
             join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num
             order by k.ord),
       con.confdeltype, con.confupdtype
from pg_constraint con
join pg_class c on c.oid = con.conrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_class fc on fc.oid = con.confrelid
left join pg_namespace fn on fn.oid = fc.relnamespace
where con.contype in ('p', 'u', 'f') and n.nspname = %(schema)s and c.relname = any(%(tables)s)
order by c.relname, con.conname
"""

INDEXES_SQL = """
select t.relname, i.relname, ix.indisunique,
       array(select a.attname from unnest(ix.indkey::int2[]) with ordinality k(num, ord)
             join pg_attribute a on a.attrelid = ix.indrelid and a.attnum = k.num
             order by k.ord),
       ix.indexprs is not null or ix.indpred is not null or 0 = any(ix.indkey::int2[])
         or am.amname <> 'btree'
from pg_index ix
join pg_class i on i.oid = ix.indexrelid
join pg_class t on t.oid = ix.indrelid
join pg_namespace n on n.oid = t.relnamespace
join pg_am am on am.oid = i.relam
where n.nspname = %(schema)s and t.relname = any(%(tables)s)
  and not exists (select 1 from pg_constraint con
                  where con.conindid = ix.indexrelid and con.contype in ('p', 'u', 'x'))
order by t.relname, i.relname
"""

QUERIES = (COLUMNS_SQL, CONSTRAINTS_SQL, INDEXES_SQL)

ACTIONS = {"a": "no_action", "r": "restrict", "c": "cascade", "n": "set_null", "d": "set_default"}

_CAST = re.compile(r"^'((?:[^']|'')*)'::([a-z ]+)$", re.DOTALL)
_NUMBER = re.compile(r"^\(?(-?\d+(?:\.\d*)?(?:e[+-]?\d+)?)\)?$")


class UnknownDefault(ValueError):
    """A default expression that is not a literal Santokit could have written."""


def _literal_text(expr: str) -> str:
    if m := _CAST.match(expr):
        return m.group(1).replace("''", "'")
    if m := _NUMBER.match(expr):
        return m.group(1)
    if expr in ("true", "false"):
        return expr
    raise UnknownDefault(expr)


@lru_cache(maxsize=4096)
def parse_default(expr: str | None, type_name: str) -> Default | None:
    """The IR default for a stored default expression of a column of logical ``type_name``."""
    if expr is None:
        return None
    logical = LOGICAL.get(type_name)
    if logical is None:  # a pg:<type> column: no default of ours
        raise UnknownDefault(expr)
    if expr in ("now()", "CURRENT_TIMESTAMP") and logical.default_now:
        return Default.now()
    text = _literal_text(expr)
    match logical.default:
        case "text":
            return Default("literal", text)
        case "int" if logical.default_as_string:
            return Default("literal", str(int(text)))  # bigint's JSON form, as the IR keeps it
        case "int":
            return Default("literal", int(text))
        case "float":
            return Default("literal", float(text) + 0.0)
        case "decimal":
            return Default("literal", format(Decimal(text), "f"))
        case "boolean":
            return Default("literal", text == "true")
        case "timestamp":
            moment = datetime.fromisoformat(text).astimezone(UTC)
            return Default("literal", moment.isoformat().replace("+00:00", "Z"))
        case "bytes":
            raw = bytes.fromhex(text[2:]) if text.startswith("\\x") else text.encode()
            return Default("literal", base64.b64encode(raw).decode("ascii"))
        case "json":
            return Default.json_value(json.loads(text))
    raise UnknownDefault(expr)


def _lift(pg_type: str, hint: Column | None) -> str:
    candidates = LOGICAL_OF.get(pg_type)
    if not candidates:
        return f"pg:{pg_type}"
    if hint is not None and hint.type in candidates:
        return hint.type
    return candidates[0]


def _column(
    name: str, pg_type: str, notnull: bool, expr: str | None, hint: Column | None
) -> Column:
    logical = _lift(pg_type, hint)
    same = hint if hint is not None and hint.type == logical else None
    try:
        default = parse_default(expr, logical)
    except (UnknownDefault, ValueError):
        # Not a literal we write: keep the raw expression so it differs from any declaration.
        default = Default("literal", f"pg:{expr}")
    kind = LOGICAL.get(logical)
    return Column(
        name=name,
        type=logical,
        nullable=not notnull,
        default=default,
        items=same.items if same and kind and kind.items else None,
        file=same.file if same and kind and kind.file else None,
    )


def _id(name: str, pg_type: str, identity: str, hint: IdColumn | None) -> IdColumn:
    logical = _lift(pg_type, None)
    if identity in ("a", "d"):
        return IdColumn(name, "auto_increment", logical)
    if (
        logical == "string"
        and hint
        and hint.type == "string"
        and (hint.generate in (*STRING_ID_GENERATORS, "client"))
    ):
        return IdColumn(name, hint.generate, "string")
    return IdColumn(name, "client", logical)


@dataclass(frozen=True)
class Catalog:
    """The catalog rows of some tables of one namespace, as read: no hint applied yet, so the
    same read serves the plan (the declaration as hint), the drift check (the applied schema)
    and the promote gate (the release)."""

    schema: str
    tables: frozenset[str]
    cols: tuple[tuple[Any, ...], ...]
    cons: tuple[tuple[Any, ...], ...]
    idxs: tuple[tuple[Any, ...], ...]

    def covers(self, tables: Iterable[str]) -> bool:
        return self.tables.issuperset(tables)

    def assemble(
        self, tables: Iterable[str], hint: ConnectionSchema | None = None, connection_name: str = ""
    ) -> ConnectionSchema:
        """The named tables (a subset of those read) as IR, lifted with ``hint``."""
        names = frozenset(tables)
        if names == self.tables:
            cols, cons, idxs = self.cols, self.cons, self.idxs
        else:
            cols = tuple(r for r in self.cols if r[0] in names)
            cons = tuple(r for r in self.cons if r[0] in names)
            idxs = tuple(r for r in self.idxs if r[0] in names)
        with gc_paused():
            return _assemble(cols, cons, idxs, self.schema, hint, connection_name)


def read_catalog(
    conn: psycopg.Connection[Any], schema: str, tables: Iterable[str], connection_name: str = ""
) -> Catalog:
    """One read of the catalog (three set-based queries) for the named tables of ``schema``.

    Each read is logged at debug level, so how often a request reads a database can be seen
    (``STK_HUB_LOG_LEVEL=debug``) and tested."""
    names = sorted(set(tables))
    params = {"schema": schema, "tables": names}
    log.debug("catalog read", extra={"connection": connection_name, "tables": len(names)})
    with gc_paused(), conn.cursor() as cur:
        cols = tuple(cur.execute(COLUMNS_SQL, params).fetchall())
        cons = tuple(cur.execute(CONSTRAINTS_SQL, params).fetchall())
        idxs = tuple(cur.execute(INDEXES_SQL, params).fetchall())
    return Catalog(schema, frozenset(names), cols, cons, idxs)


def introspect(
    conn: psycopg.Connection[Any],
    schema: str,
    tables: Iterable[str],
    hint: ConnectionSchema | None = None,
    connection_name: str = "",
) -> ConnectionSchema:
    """Read the named tables of ``schema`` (those that exist) into a ConnectionSchema."""
    catalog = read_catalog(conn, schema, tables, connection_name)
    return catalog.assemble(catalog.tables, hint, connection_name)


def _assemble(
    cols: Sequence[tuple[Any, ...]],
    cons: Sequence[tuple[Any, ...]],
    idxs: Sequence[tuple[Any, ...]],
    schema: str,
    hint: ConnectionSchema | None,
    connection_name: str,
) -> ConnectionSchema:
    raw: dict[str, list[tuple[Any, ...]]] = {}
    for row in cols:
        raw.setdefault(row[0], [])
        if row[1] is not None:
            raw[row[0]].append(row[1:])
    pk: dict[str, str] = {}
    unique_cols: dict[str, set[str]] = {}
    multi_unique: dict[str, list[Index]] = {}
    fks: dict[str, list[tuple[Any, ...]]] = {}
    for table, name, kind, keys, ref_schema, ref_table, ref_keys, on_del, on_upd in cons:
        if kind == "p" and len(keys) == 1:
            pk[table] = keys[0]
        elif kind == "u" and len(keys) == 1:
            unique_cols.setdefault(table, set()).add(keys[0])
        elif kind == "u":
            multi_unique.setdefault(table, []).append(Index(name, tuple(keys), True))
        elif kind == "f" and len(keys) == 1:
            ref = ref_table if ref_schema == schema else f"{ref_schema}.{ref_table}"
            fks.setdefault(table, []).append(
                (name, keys[0], ref, ref_keys[0], ACTIONS[on_del], ACTIONS[on_upd])
            )
    indexes: dict[str, list[Index]] = {}
    for table, name, unique, keys, odd in idxs:
        keyed = ("(expression)",) if odd else tuple(keys)
        indexes.setdefault(table, []).append(Index(name, keyed, unique))
    out = []
    for table, rows in raw.items():
        declared = hint.table(table) if hint else None
        id_name = pk.get(table, "")
        id_col = IdColumn("", "client", "")
        columns = []
        for name, pg_type, notnull, identity, expr in rows:
            if name == id_name:
                id_col = _id(name, pg_type, identity, declared.id if declared else None)
                continue
            col = _column(name, pg_type, notnull, expr, declared.column(name) if declared else None)
            if name in unique_cols.get(table, ()):
                col = Column(
                    col.name, col.type, col.nullable, True, col.default, col.items, col.file
                )
            columns.append(col)
        aliases = {fk.column: fk.alias for fk in declared.foreign_keys} if declared else {}
        foreign = [
            ForeignKey(n, c, rt, rc, d, u, aliases.get(c))
            for n, c, rt, rc, d, u in fks.get(table, [])
        ]
        out.append(
            Table(
                table,
                id_col,
                tuple(columns),
                tuple(indexes.get(table, []) + multi_unique.get(table, [])),
                tuple(foreign),
            )
        )
    return ConnectionSchema(connection_name, tuple(out))
