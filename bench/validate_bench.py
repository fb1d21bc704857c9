"""Benchmark: `stk validate` on a generated 1000-table schema (about 600 KB of YAML) with a
permissions file of four rules and two CEL conditions per table.

Prints the median wall time of the real `stk validate` process (start-up included), the in-process
validation time with and without the permissions file, and the YAML composition time with libyaml
against the pure-Python loader measured in the same run. Not a test: it asserts nothing, it reports.

    python bench/validate_bench.py [--tables 1000] [--runs 7]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from _timing import median_seconds

from santokit.core.validation import read_snapshot, validate_snapshot
from santokit.core.yamlsource import _Loader

COLUMNS = """\
      {t}_name: {{ type: string, nullable: false }}
      email: {{ type: string, unique: true }}
      age: {{ type: int, default: 0 }}
      score: {{ type: float }}
      price: {{ type: decimal, default: '12.50' }}
      active: {{ type: boolean, nullable: false, default: true }}
      meta: {{ type: json }}
      tags: {{ type: array, items: string, nullable: false, default: [] }}
      created_at: {{ type: timestamp, nullable: false, default: now }}
      photo: {{ type: file, bucket: media }}
"""


def make_repo(root: Path, tables: int, files: int = 10) -> int:
    """Write ``tables`` tables over ``files`` files, 500 per connection (the limit); each table
    references the previous one of its connection."""
    (root / "schema").mkdir(parents=True)
    size = 0
    per_file = tables // files
    for f in range(files):
        parts = ["version: 1\ntables:\n"]
        for i in range(f * per_file, (f + 1) * per_file):
            conn = f"db{i // 500}"
            parts.append(f"  t{i:04d}:\n    connection: {conn}\n    id: {{ generate: ulid }}\n")
            parts.append("    columns:\n" + COLUMNS.format(t=f"t{i:04d}"))
            if i % 500:
                parts.append(
                    f"      parent_id: {{ type: string, references: {{ table: t{i - 1:04d}, "
                    "onDelete: set_null }}\n"
                )
            parts.append(
                "    indexes:\n      - columns: [email, created_at]\n"
                "      - { columns: [age], name: " + f"t{i:04d}_by_age }}\n"
            )
        text = "".join(parts)
        size += len(text.encode())
        (root / "schema" / f"part{f:02d}.yaml").write_text(text)
    return size


def make_permissions(root: Path, tables: int) -> int:
    """Every table readable by its owner, listed to staff, written by a writer, deleted by admin."""
    parts = ["version: 1\ntables:\n"]
    for i in range(tables):
        parts.append(
            f"  t{i:04d}:\n"
            "    select:\n"
            "      - roles: [admin]\n"
            "      - roles: [authenticated]\n"
            f"        condition: resource.t{i:04d}_name == request.auth.sub\n"
            "        columns: [id, email, created_at]\n"
            "      - roles: [staff]\n"
            "        condition: resource.active == true\n"
            "    insert: { roles: [writer], columns: [email, age] }\n"
            "    update: { roles: [writer], columns: ['*'] }\n"
            "    delete: { roles: [admin] }\n"
        )
    text = "".join(parts)
    (root / "config").mkdir()
    (root / "config" / "permissions.yaml").write_text(text)
    return len(text.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    stk = shutil.which("stk") or str(Path(sys.executable).parent / "stk")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        size = make_repo(root, args.tables)
        texts = [p.read_text() for p in sorted((root / "schema").iterdir())]
        bare = median_seconds(
            lambda: validate_snapshot(read_snapshot(root)).ok or sys.exit("invalid"), args.runs
        )
        perm_size = make_permissions(root, args.tables)

        def run_cli() -> None:
            done = subprocess.run(
                [stk, "validate", "--dir", str(root)], capture_output=True, text=True, check=False
            )
            if done.returncode != 0:
                raise SystemExit(f"stk validate failed:\n{done.stdout}{done.stderr}")

        def in_process() -> None:
            result = validate_snapshot(read_snapshot(root))
            assert result.ok, result.findings[:3]

        def compose(loader: type) -> None:
            for text in texts:
                yaml.compose(text, Loader=loader)

        cli = median_seconds(run_cli, args.runs)
        startup = median_seconds(
            lambda: subprocess.run([stk, "--version"], capture_output=True, check=True), args.runs
        )
        inproc = median_seconds(in_process, args.runs)
        c_yaml = median_seconds(lambda: compose(_Loader), args.runs)
        py_yaml = median_seconds(lambda: compose(yaml.SafeLoader), max(3, args.runs // 2))

    print(f"schema: {args.tables} tables, {size / 1024:.0f} KiB in 10 files")
    print(
        f"permissions: {4 * args.tables} ops, {2 * args.tables} conditions, "
        f"{perm_size / 1024:.0f} KiB"
    )
    print(f"stk validate (process, median of {args.runs}): {cli:.3f} s   goal < 1 s")
    print(f"  of which interpreter + imports (stk --version): {startup:.3f} s")
    print(f"validate_snapshot in process:             {inproc:.3f} s")
    print(f"  the same without the permissions file:  {bare:.3f} s ({inproc / bare:.2f}x)")
    print(f"YAML compose, libyaml (CSafeLoader):      {c_yaml:.3f} s")
    print(f"YAML compose, pure Python (SafeLoader):   {py_yaml:.3f} s")
    print(f"libyaml speed-up: {py_yaml / c_yaml:.1f}x")


if __name__ == "__main__":
    main()
