"""The layers' import rules and the engine knowledge kept out of the Hub and the CLI, read off
the source itself (AST walks and greps), so a new import or a stray default fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def modules(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (function-local imports too), absolute."""
    package = f"santokit.{path.parent.relative_to(ROOT).as_posix().replace('/', '.')}"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                out.add(f"{base}.{node.module}" if node.module else base)
            else:
                out.add(node.module or "")
    return out


def offenders(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules(layer)
        for name in sorted(imported(path))
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


def test_the_layers_exist() -> None:  # an empty walk would pass every rule below
    assert len(modules("core")) > 10
    assert len(modules("hub")) > 10
    assert len(modules("cli")) > 5


def test_core_imports_no_framework_driver_or_outer_layer() -> None:
    forbidden = ("santokit.hub", "santokit.cli", "litestar", "psycopg", "httpx", "sqlalchemy")
    assert offenders("core", forbidden) == []


def test_the_hub_never_imports_the_cli() -> None:
    assert offenders("hub", ("santokit.cli",)) == []


def test_the_bridge_talks_to_the_hub_over_http_only() -> None:
    """bridge.md: the Bridge never imports the Hub (nor the CLI, which imports the Hub)."""
    assert offenders("bridge", ("santokit.hub", "santokit.cli")) == []


@pytest.mark.parametrize("layer", ["hub", "bridge", "cli"])
def test_no_engine_driver_or_engine_module_in_hub_or_cli(layer: str) -> None:
    assert offenders(layer, ("psycopg", "santokit.plugins.postgres")) == []


@pytest.mark.parametrize("layer", ["hub", "bridge", "cli"])
def test_no_postgres_url_form_in_hub_or_cli(layer: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in modules(layer)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"postgres(ql)?://|psycopg", line)
    ]
    assert found == []


@pytest.mark.parametrize("layer", ["hub", "cli"])
def test_no_public_namespace_default_in_hub_or_cli(layer: str) -> None:
    """A parameter, a field or a keyword defaulting to "public" is the Postgres namespace
    leaking in: the default comes from the engine's ``default_namespace``."""
    found = []
    for path in modules(layer):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            defaults: list[ast.expr] = []
            if isinstance(node, ast.arguments):
                defaults = [*node.defaults, *(d for d in node.kw_defaults if d is not None)]
            elif (isinstance(node, ast.AnnAssign) and node.value is not None) or (
                isinstance(node, ast.keyword) and node.arg in ("schema", "db_schema")
            ):
                defaults = [node.value]
            found += [
                f"{path.relative_to(ROOT)}:{d.lineno}"
                for d in defaults
                if isinstance(d, ast.Constant) and d.value == "public"
            ]
    assert found == []
