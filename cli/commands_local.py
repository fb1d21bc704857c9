"""Commands that need no Hub: ``stk validate`` and ``stk plugins``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from santokit.core.plugins import default_plugins
from santokit.core.validation import find_root, read_snapshot, validate_snapshot

from . import output
from .output import Column

JsonFlag = Annotated[bool, Parameter(name="--json", negative="", help="Print one JSON document.")]


def validate(*, dir: Path | None = None, json: JsonFlag = False) -> int:
    """Check schema/*.yaml and config/permissions.yaml offline, reporting every problem at once.

    Each finding is printed as ``file:line:col: yaml.path: message``. Exit 0 when the files are
    valid, 1 with findings, 2 when there is no schema/ folder.

    Example: stk validate --dir ./my-service

    Parameters
    ----------
    dir
        Repository root holding schema/ (default: the folder with .stk/, else the current one).
    """
    root = dir.resolve() if dir else find_root(Path.cwd())
    snapshot = read_snapshot(root)
    plugins = default_plugins()
    result = validate_snapshot(snapshot, plugins.diff_rules())
    tables = sum(len(c.tables) for c in result.schema.connections)
    if json:
        output.emit_json(
            {
                "ok": result.ok,
                "findings": [f.to_json() for f in result.findings],
                "files": sorted(snapshot.schema_files)
                + (["config/permissions.yaml"] if snapshot.permissions_file is not None else []),
                "schema": {
                    "digest": result.schema.digest(),
                    "tables": tables,
                    "connections": [c.name for c in result.schema.connections],
                }
                if result.ok
                else None,
            }
        )
        return 0 if result.ok else 1
    for finding in result.findings:
        output.line(str(finding))
    files = len(snapshot.schema_files) + (snapshot.permissions_file is not None)
    if not result.ok:
        n = len(result.errors)
        output.notice(
            f"{n} problem{'s' if n != 1 else ''} found in {files} file{'s' if files != 1 else ''} "
            f"under {root}"
        )
        return 1
    conns = len(result.schema.connections)
    output.line(
        f"ok: {tables} table{'s' if tables != 1 else ''} on {conns} "
        f"connection{'s' if conns != 1 else ''}, {files} files valid "
        f"(schema {result.schema.digest()[:19]})"
    )
    return 0


def plugins(*, json: JsonFlag = False) -> int:
    """List the loaded plugins with their versions and the hooks each implements.

    Example: stk plugins --json
    """
    infos = default_plugins().describe()
    if json:
        output.emit_json(
            [
                {
                    "name": i.name,
                    "module": i.module,
                    "distribution": i.distribution,
                    "version": i.version,
                    "hooks": list(i.hooks),
                    "error": i.error,
                }
                for i in infos
            ]
        )
    else:
        rows = [
            {
                "plugin": i.name,
                "distribution": i.distribution,
                "version": i.version,
                "hooks": ", ".join(i.hooks) if not i.error else f"failed to load: {i.error}",
            }
            for i in infos
        ]
        columns = [Column("plugin"), Column("distribution", drop=2), Column("version", drop=1)]
        if infos:
            output.table(rows, [*columns, Column("hooks")])
        else:
            output.notice("no plugins are installed")
    return 1 if any(i.error for i in infos) else 0
