"""The repo context ``.stk/context.json`` and where each value comes from (cli.md §1).

Per value, first match wins: the flag, then the ``STK_*`` variable, then the nearest context file.
The file is read only when neither flag nor variable gives the value, so CI, which passes flags,
never depends on it (nor breaks on a broken one).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from santokit import specs
from santokit.core.errors import UsageError
from santokit.core.identifiers import identifier_problem
from santokit.core.validation import find_root

if TYPE_CHECKING:  # jsonschema costs tens of milliseconds to import: only when a file is read
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

CONTEXT_FILE = ".stk/context.json"


@dataclass(frozen=True)
class _Source:
    """Where one resolvable value may come from, and what to tell an operator who gave none."""

    key: str  # key in the context file
    env_var: str | None
    option: str
    placeholder: str


_SOURCES = {
    "project": _Source("project", "STK_PROJECT", "--project", "NAME"),
    "env": _Source("env", "STK_ENV", "--env", "NAME"),
    "hub": _Source("hubUrl", "STK_HUB_URL", "--hub", "URL"),
    "connection": _Source("connection", None, "--connection", "NAME"),
}


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` so readers see the old file or the new one, never half of either.

    The temporary file is created with ``mode`` from the start (umask still applies), so a secret
    is never readable by others, not even for a moment.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def find_context_file(start: Path) -> Path | None:
    """The nearest ``.stk/context.json`` in ``start`` or a parent, like git finds ``.git``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / CONTEXT_FILE
        if candidate.is_file():
            return candidate
    return None


@cache
def _validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(specs.load(specs.CONTEXT_FILE))


def _explain(error: ValidationError) -> str:
    """One schema error in operator terms; the raw message would quote a 1 KB regex."""
    where = ".".join(str(p) for p in error.absolute_path) or "(root)"
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "pattern":
        if schema.get("x-stk-identifier"):
            return f"{where}: {identifier_problem(error.instance)}"
        expected = str(schema.get("description", "")).split(". ")[0]
        return f"{where}: {json.dumps(error.instance)} is not valid, expected {expected}"
    return f"{where}: {error.message}"


def _problems(content: Any) -> list[str]:
    errors = sorted(_validator().iter_errors(content), key=lambda e: list(map(str, e.path)))
    return [_explain(e) for e in errors]


def _read(path: Path) -> dict[str, str]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(
            f"{path} is not valid JSON ({e}); fix it or run 'stk context clear'"
        ) from e
    problems = _problems(content)
    if problems:
        raise UsageError(f"{path}: {'; '.join(problems)}; fix it or run 'stk context clear'")
    return content


def load_context(start: Path) -> dict[str, str]:
    """The nearest context file's values; ``{}`` when there is none."""
    path = find_context_file(start)
    return {} if path is None else _read(path)


def save_context(start: Path, updates: Mapping[str, str | None]) -> Path:
    """Merge ``updates`` (file keys; None removes a key) into the nearest context file.

    Without one, the file is created at the repo root: the nearest folder already holding
    ``.stk/``, else ``start``. Creating ``.stk/`` anywhere else would move the root that
    ``stk apply`` finds. Nothing is written unless the merged content is valid.
    """
    path = find_context_file(start) or find_root(start) / CONTEXT_FILE
    content = _read(path) if path.is_file() else {}
    for key, value in updates.items():
        if value is None:
            content.pop(key, None)
        else:
            content[key] = value.rstrip("/") if key == "hubUrl" else value
    problems = _problems(content)
    if problems:
        raise UsageError(f"not saved to {path}: {'; '.join(problems)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return path


def clear_context(start: Path) -> Path | None:
    """Delete the nearest context file (``.stk/`` stays: it still marks the repo root)."""
    path = find_context_file(start)
    if path is not None:
        path.unlink()
    return path


def resolve(name: str, flag: str | None, start: Path, *, option: str | None = None) -> str:
    """The value of ``name`` (project, env, hub or connection): flag, then ``STK_*``, then file.

    An empty string counts as not given, so an unset CI variable expanded into ``--project ""``
    does not become a project named "". ``option`` renames the flag in the error message for
    commands that spell it differently (``stk connections test --name``).
    """
    source = _SOURCES.get(name)
    if source is None:
        raise ValueError(f"unknown context value {name!r}; expected one of {sorted(_SOURCES)}")
    value = flag or (os.environ.get(source.env_var) if source.env_var else None)
    if not value:
        value = load_context(start).get(source.key)
    if not value:
        option = option or source.option
        hint = f" (or set {source.env_var})" if source.env_var else ""
        raise UsageError(
            f"no {name} given: pass {option} or run "
            f"'stk context set {source.option} {source.placeholder}'{hint}"
        )
    return value.rstrip("/") if name == "hub" else value
