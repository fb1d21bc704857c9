"""Where output goes: results on stdout, notices and errors on stderr (cli.md §3).

rich decides on colour: only on a terminal, never with ``NO_COLOR`` set. It is imported on first
use, not at start-up: ``stk --version`` and ``stk validate`` on valid files never need it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


class _State:
    """What this run has printed so far: ``main`` adds the failure's JSON only if none was."""

    json_emitted = False


state = _State()


@cache
def _out() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@cache
def _err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def __getattr__(name: str) -> Console:
    """``output.out`` and ``output.err``, the rich consoles, created when first asked for."""
    if name == "out":
        return _out()
    if name == "err":
        return _err()
    raise AttributeError(name)


def line(text: str) -> None:
    """One plain line on stdout; file paths and brackets are never read as markup."""
    sys.stdout.write(text + "\n")


def notice(text: str) -> None:
    _err().print(text, markup=False)


def error(text: str) -> None:
    _err().print(f"error: {text}", markup=False, style="red")


def emit_json(document: Any) -> None:
    """The one JSON document of a ``--json`` run."""
    state.json_emitted = True
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextmanager
def progress(text: str) -> Iterator[None]:
    """A spinner on stderr while something runs, only on a terminal (rich is not even loaded
    when stderr is a file or a pipe and nothing forces a terminal)."""
    isatty = getattr(sys.stderr, "isatty", None)
    forced = os.environ.get("FORCE_TERMINAL") or os.environ.get("TTY_COMPATIBLE")
    if not (forced or (isatty is not None and isatty())):
        yield
        return
    if _err().is_terminal:
        with _err().status(text):
            yield
    else:
        yield


# -- tables -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One column of a list command's table.

    ``drop`` orders what goes first when a terminal is too narrow: 0 (ids, refs, names, redacted
    URLs, roles) is never dropped and never cut; among the others the highest number goes first.
    """

    key: str
    header: str | None = None
    drop: int = 0

    @property
    def title(self) -> str:
        return self.header or self.key


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or "-"
    return str(value)


def _terminal_width() -> int | None:
    """The width to fit, or None when stdout is no terminal (piped: every column, whole).

    ``STK_FORCE_TERMINAL=1`` makes a pipe count as a terminal, for tests; the width comes from
    ``COLUMNS`` first, as rich and kubectl take it, then from the terminal itself.
    """
    forced = os.environ.get("STK_FORCE_TERMINAL") == "1"
    if not forced and not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size(fallback=(80, 24)).columns


def fit_columns(
    widths: Sequence[int], columns: Sequence[Column], width: int | None, gap: int = 2
) -> list[int]:
    """The indexes of the columns shown: all, or without the lesser ones until the row fits.

    A row of essential columns wider than the terminal is still printed whole (the terminal
    wraps it): a cut id cannot be copied, a wrapped one can.
    """
    shown = list(range(len(columns)))
    if width is None:
        return shown

    def total() -> int:
        return sum(widths[i] for i in shown) + gap * (len(shown) - 1)

    while total() > width:
        droppable = [i for i in shown if columns[i].drop > 0]
        if not droppable:
            break
        # the highest drop number first; among equals the rightmost
        shown.remove(max(droppable, key=lambda i: (columns[i].drop, i)))
    return shown


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> None:
    """Print ``rows`` as a table on stdout: no cell is ever cut or ellipsized.

    Piped, every column is printed; on a terminal narrower than the table the lesser columns are
    left out (as kubectl and gh do) and stderr names them. ``--json`` has every field.
    """
    cells = [[_cell(row.get(c.key)) for c in columns] for row in rows]
    widths = [max([len(c.title)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    shown = fit_columns(widths, columns, _terminal_width())
    for values in [[c.title for c in columns], *cells]:
        parts = [values[i].ljust(widths[i]) for i in shown]
        line("  ".join(parts).rstrip())
    hidden = [columns[i].title for i in range(len(columns)) if i not in shown]
    if hidden:
        notice(f"({', '.join(hidden)} left out to fit the terminal; --json or a pipe shows all)")
