"""Benchmark: engine-level plan time against the catalog floor and against migra, same run.

For N tables shaped like a real app (9 columns of mixed types, 2 indexes, 1 foreign key each) it
measures, on a throwaway Postgres (pgserver's binaries; or --url for a server of yours):
  (a) the no-op plan: introspect + diff, declared IR in memory, nothing to do;
  (b) the plan after one added column per table;
  (c) the bare catalog queries alone, in a new session as every plan runs: the floor any tool
      must pay (a new backend starts with cold catalog caches);
  (d) migra diffing the same database against an identical copy (the peer).
migra is installed into bench/.venv-migra on first use (pip: migra, psycopg2-binary).
Not a test: it prints medians and ratios and asserts nothing.

    python bench/plan_bench.py [--tables 100 1000] [--runs 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from _timing import median_seconds

from santokit.core.ir import Column, ConnectionSchema, Default, ForeignKey, Index, Table
from santokit.plugins.diffrules import RULES
from santokit.plugins.postgres.embedded import EmbeddedPostgres
from santokit.plugins.postgres.engine import PostgresEngine
from santokit.plugins.postgres.introspect import QUERIES

HERE = Path(__file__).parent
MIGRA_VENV = HERE / ".venv-migra"
MIGRA_CODE = """
import sys, time
from migra import Migration
from sqlbag import S
a, b, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
samples = []
for _ in range(runs):
    with S(a) as sa, S(b) as sb:
        start = time.perf_counter()
        m = Migration(sa, sb)
        m.set_safety(False)
        m.add_all_changes()
        assert m.sql == "", m.sql
        samples.append(time.perf_counter() - start)
print(sorted(samples)[len(samples) // 2])
"""


def app_schema(n: int, extra_column: bool = False) -> ConnectionSchema:
    tables = []
    for i in range(n):
        name = f"t{i:04d}"
        cols = [
            Column("email", "string", nullable=False, unique=True),
            Column("name", "string"),
            Column("age", "int", default=Default("literal", 0)),
            Column("score", "float"),
            Column("price", "decimal", default=Default("literal", "12.50")),
            Column("active", "boolean", nullable=False, default=Default("literal", True)),
            Column("meta", "json"),
            Column("created_at", "timestamp", nullable=False, default=Default.now()),
            Column("parent_id", "string"),
        ]
        if extra_column:
            cols.append(Column("note", "string"))
        parent = f"t{i - 1:04d}"
        fks = (ForeignKey(f"{name}_parent_id_fkey", "parent_id", parent, "id"),) if i else ()
        idx = (
            Index(f"{name}_name_idx", ("name",)),
            Index(f"{name}_created_at_age_idx", ("created_at", "age")),
        )
        tables.append(Table(name, columns=tuple(cols), indexes=idx, foreign_keys=fks))
    return ConnectionSchema("main", tuple(tables))


def migra_python() -> Path | None:
    python = MIGRA_VENV / "bin" / "python"
    if not python.exists():
        print("installing migra into bench/.venv-migra (once) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(MIGRA_VENV)], check=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "migra", "psycopg2-binary"], check=False
        )
        if done.returncode != 0:
            return None
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--url", help="a superuser URL of a server to use instead")
    args = parser.parse_args()
    engine = PostgresEngine()
    migra = migra_python()
    with tempfile.TemporaryDirectory() as tmp:
        server = None if args.url else EmbeddedPostgres(Path(tmp)).start()
        admin = args.url or server.url()  # type: ignore[union-attr]
        base = admin.rsplit("/", 1)[0]
        try:
            for n in args.tables:
                a, b = f"bench_{n}_a", f"bench_{n}_b"
                with psycopg.connect(admin, autocommit=True) as conn:
                    for db in (a, b):
                        conn.execute(f"drop database if exists {db}".encode())
                    conn.execute(f"create database {a}".encode())
                declared = app_schema(n)
                engine.apply(f"{base}/{a}", declared, None, RULES)
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f"create database {b} template {a}".encode())
                url = f"{base}/{a}"
                names = [t.name for t in declared.tables]
                noop = median_seconds(
                    lambda url=url, d=declared: engine.plan(url, d, d, RULES), args.runs
                )
                plan = engine.plan(url, declared, declared, RULES)
                assert plan.is_empty, plan.summary()
                wider = app_schema(n, extra_column=True)
                assert len(engine.plan(url, wider, declared, RULES).changes) == n
                added = median_seconds(
                    lambda url=url, w=wider, d=declared: engine.plan(url, w, d, RULES), args.runs
                )

                params = {"schema": "public", "tables": names}

                def floor_queries(url: str = url, params: dict = params) -> None:
                    # what any tool pays: a new session (cold catalog caches) and the queries
                    with psycopg.connect(url, autocommit=True) as conn:
                        conn.execute("set jit = off")
                        for sql in QUERIES:
                            conn.execute(sql, params).fetchall()

                floor = median_seconds(floor_queries, args.runs)
                print(f"N={n} tables (median of {args.runs})")
                print(f"  (a) santokit no-op plan:              {noop * 1000:8.1f} ms")
                print(f"  (b) santokit plan, +1 column each:    {added * 1000:8.1f} ms")
                print(f"  (c) catalog queries alone (floor):    {floor * 1000:8.1f} ms")
                print(f"      no-op plan / floor:               {noop / floor:8.2f}x   goal <= 2x")
                if migra is not None:
                    pg2 = base.replace("postgresql://", "postgresql+psycopg2://")
                    out = subprocess.run(
                        [str(migra), "-c", MIGRA_CODE, f"{pg2}/{a}", f"{pg2}/{b}", str(args.runs)],
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    peer = float(out.stdout.strip())
                    print(f"  (d) migra, identical copy:            {peer * 1000:8.1f} ms")
                    ratio = peer / noop
                    print(f"      migra / santokit no-op plan:      {ratio:8.2f}x   goal >= 5x")
                else:
                    print("  (d) migra could not be installed: no peer measured")
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
