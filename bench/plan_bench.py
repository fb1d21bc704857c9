"""Benchmark: engine-level plan time against the catalog floor and against migra, same run.

For N tables shaped like a real app (9 columns of mixed types, 2 indexes, 1 foreign key each) it
measures, on a throwaway Postgres (pgserver's binaries; or --url for a server of yours):
  (a) the no-op plan: introspect + diff, declared IR in memory, nothing to do;
  (b) the plan after one added column per table;
  (c) the bare catalog queries alone, in a new session as every plan runs: the floor any tool
      must pay (a new backend starts with cold catalog caches);
  (d) migra diffing the same database against an identical copy (the peer);
  (e) end to end, for --e2e N tables (default 500): ``stk apply --only schema --dry-run`` as a
      process (the real ``stk`` against a real Hub on a real port, declared in schema/*.yaml),
      beside migra's bare diff of that same database in the same run.
migra is installed into bench/.venv-migra on first use (pip: migra, psycopg2-binary).
Not a test: it prints medians and ratios and asserts nothing.

    python bench/plan_bench.py [--tables 100 1000] [--e2e 500] [--runs 5]
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import psycopg
from _timing import median_seconds

from santokit.core.ir import Column, ConnectionSchema, Default, ForeignKey, Index, Table
from santokit.plugins.diffrules import RULES
from santokit.plugins.postgres.embedded import EmbeddedPostgres
from santokit.plugins.postgres.engine import PostgresEngine
from santokit.plugins.postgres.introspect import QUERIES

HERE = Path(__file__).parent
STK = Path(sysconfig.get_path("scripts")) / "stk"
PASSWORD = "bench-Op3rator-pass"
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


def app_yaml(n: int) -> str:
    """``app_schema(n)`` as a schema file: what an operator's repository would hold."""
    lines = ["version: 1", "tables:"]
    for i in range(n):
        lines += [
            f"  t{i:04d}:",
            "    connection: main",
            "    columns:",
            "      email: { type: string, nullable: false, unique: true }",
            "      name: { type: string }",
            "      age: { type: int, default: 0 }",
            "      score: { type: float }",
            '      price: { type: decimal, default: "12.50" }',
            "      active: { type: boolean, nullable: false, default: true }",
            "      meta: { type: json }",
            "      created_at: { type: timestamp, nullable: false, default: now }",
            "      parent_id: { type: string"
            + (f", references: {{ table: t{i - 1:04d} }} }}" if i else " }"),
            "    indexes:",
            "      - columns: [name]",
            "      - columns: [created_at, age]",
        ]
    return "\n".join(lines) + "\n"


def migra_seconds(migra: Path, base: str, a: str, b: str, runs: int) -> float:
    """migra's median diff of database ``a`` against its identical copy ``b``."""
    pg2 = base.replace("postgresql://", "postgresql+psycopg2://")
    out = subprocess.run(
        [str(migra), "-c", MIGRA_CODE, f"{pg2}/{a}", f"{pg2}/{b}", str(runs)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stk(env: dict[str, str], *args: str, stdin: str | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [str(STK), *args], env=env, input=stdin, capture_output=True, text=True, cwd=cwd
    )
    if done.returncode != 0:
        sys.exit(f"stk {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def end_to_end(tmp: Path, admin: str, n: int, runs: int, migra: Path | None) -> None:
    """(e): a Hub process with one operator, project and env, the N-table database applied
    through it, then the timed dry runs, each a new ``stk`` process, and migra on that database."""
    import httpx

    base = admin.rsplit("/", 1)[0]
    a, b = f"bench_e2e_{n}_a", f"bench_e2e_{n}_b"
    with psycopg.connect(admin, autocommit=True) as conn:
        for db in (a, b):
            conn.execute(f"drop database if exists {db}".encode())
        conn.execute(f"create database {a}".encode())
    root = tmp / f"e2e_{n}"
    (root / "repo" / "schema").mkdir(parents=True)
    (root / "repo" / "schema" / "main.yaml").write_text(app_yaml(n))
    port = _free_port()
    hub_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STK_")}
    env |= {
        "NO_COLOR": "1",
        "STK_CONFIG_DIR": str(root / "config"),
        "STK_HUB_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "STK_HUB_URL": hub_url,
        "STK_PROJECT": "bench",
        "STK_ENV": "dev",
    }
    data = ["--data-dir", str(root / "hub")]
    _stk(env, "hub", "create-operator", "--email", "ops@example.com", "--password-stdin", *data,
         stdin=PASSWORD + "\n")  # fmt: skip
    with open(root / "hub.log", "wb") as log:
        hub = subprocess.Popen(
            [str(STK), "hub", "serve", "--port", str(port), *data],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{hub_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if hub.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the hub did not start:\n{(root / 'hub.log').read_text()}")
            time.sleep(0.1)
        _stk(env, "login", "--email", "ops@example.com", "--password-stdin", stdin=PASSWORD + "\n")
        _stk(env, "project", "create", "bench")
        _stk(env, "env", "create", "dev")
        _stk(env, "connections", "set", "--name", "main", "--db-url", f"{base}/{a}")
        repo = root / "repo"
        _stk(env, "apply", "--only", "schema", "--ref", "base", cwd=repo)  # creates the N tables
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"create database {b} template {a}".encode())
        compiled = precompile()
        args = ("apply", "--only", "schema", "--dry-run", "--ref", "bench")
        first = _stk(env, *args, cwd=repo)
        assert "no changes" in first, first
        e2e = median_seconds(lambda: _stk(env, *args, cwd=repo), runs)
    finally:
        hub.terminate()
        hub.wait(10)
    print(f"N={n} tables end to end (median of {runs})")
    print(f"  (e) stk apply --only schema --dry-run:  {e2e * 1000:8.1f} ms  (a process)")
    if compiled:
        print(f"      (bytecode compiled first for {compiled}, as a wheel install does)")
    if migra is None:
        print("      migra could not be installed: no peer measured")
        return
    peer = migra_seconds(migra, base, a, b, runs)
    print(f"      migra, same database, bare diff:   {peer * 1000:8.1f} ms")
    print(f"      migra / santokit end to end:       {peer / e2e:8.2f}x   goal > 1x")


def precompile() -> str:
    """Compile santokit's modules to bytecode, as pip does when it installs a wheel: an
    editable checkout under PYTHONDONTWRITEBYTECODE (set on this machine) would otherwise
    compile every module from source in every ``stk`` process, ~0.2 s that no installed
    ``stk`` pays. Returns what was compiled, for the report ("" when nothing needed it)."""
    import compileall
    import importlib

    folders = sorted(
        {
            Path(importlib.import_module(f"santokit.{part}").__path__[0])
            for part in ("core", "plugins", "hub", "cli", "bridge")
        }
    )
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return ""
    for folder in folders:
        compileall.compile_dir(str(folder), quiet=1)
    return ", ".join(folder.name + "/" for folder in folders)


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
    parser.add_argument(
        "--e2e", type=int, default=500, help="tables of the end-to-end row (0: skip it)"
    )
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
                    peer = migra_seconds(migra, base, a, b, args.runs)
                    print(f"  (d) migra, identical copy:            {peer * 1000:8.1f} ms")
                    ratio = peer / noop
                    print(f"      migra / santokit no-op plan:      {ratio:8.2f}x   goal >= 5x")
                else:
                    print("  (d) migra could not be installed: no peer measured")
            if args.e2e:
                end_to_end(Path(tmp), admin, args.e2e, args.runs, migra)
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
