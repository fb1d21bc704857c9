"""Where output goes: results on stdout, notices and errors on stderr (cli.md §3).

rich decides on colour: only on a terminal, never with ``NO_COLOR`` set.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def line(text: str) -> None:
    """One plain line on stdout; file paths and brackets are never read as markup."""
    sys.stdout.write(text + "\n")


def notice(text: str) -> None:
    err.print(text, markup=False)


def error(text: str) -> None:
    err.print(f"error: {text}", markup=False, style="red")


def emit_json(document: Any) -> None:
    """The one JSON document of a ``--json`` run."""
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextmanager
def progress(text: str) -> Iterator[None]:
    """A spinner on stderr while something runs, only on a terminal."""
    if err.is_terminal:
        with err.status(text):
            yield
    else:
        yield
