"""Validation of a project snapshot: the schema files and the permissions file, all at once.

The CLI (offline, ``stk validate`` and before ``stk apply``) and the Hub (on every apply) run this
same code on the same bytes, so an operator never sees a file pass locally and fail on the Hub.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from santokit.specs import PERMISSIONS_FILE, SCHEMA_FILE

from .contracts import LintRule
from .errors import Finding, UsageError, YamlPath, errors_only
from .ir import Schema
from .perf import gc_paused
from .permissions import Policy, check_permissions
from .schemaload import SchemaSources, build_schema
from .structure import structural_findings
from .yamlsource import load_yaml

SCHEMA_DIR = "schema"
PERMISSIONS_PATH = "config/permissions.yaml"
SCHEMA_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Snapshot:
    """The declared files of a project, keyed by their path relative to the repository root."""

    schema_files: Mapping[str, bytes]
    permissions_file: bytes | None = None


@dataclass
class ValidationResult:
    schema: Schema
    findings: list[Finding] = field(default_factory=list)
    sources: SchemaSources | None = None
    policy: Policy = field(default_factory=Policy)

    @property
    def ok(self) -> bool:
        return not errors_only(self.findings)

    @property
    def errors(self) -> list[Finding]:
        return errors_only(self.findings)


def find_root(start: Path) -> Path:
    """The repository root: the nearest folder holding ``.stk/``, else ``start`` itself."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".stk").is_dir():
            return folder
    return start


def read_snapshot(root: Path) -> Snapshot:
    """Read ``schema/*.yaml`` (and ``*.yml``) and ``config/permissions.yaml`` under ``root``."""
    schema_dir = root / SCHEMA_DIR
    if not schema_dir.is_dir():
        raise UsageError(
            f"no {SCHEMA_DIR}/ folder in {root}; run from the repository root or pass --dir"
        )
    files = {
        f"{SCHEMA_DIR}/{p.name}": p.read_bytes()
        for p in sorted(schema_dir.iterdir())
        if p.suffix in SCHEMA_SUFFIXES and p.is_file()
    }
    if not files:
        raise UsageError(f"{SCHEMA_DIR}/ in {root} holds no *.yaml or *.yml file")
    perms = root / PERMISSIONS_PATH
    return Snapshot(files, perms.read_bytes() if perms.is_file() else None)


def _lint(schema: Schema, sources: SchemaSources, rules: Iterable[object]) -> list[Finding]:
    found = []
    for rule in rules:
        if not isinstance(rule, LintRule):
            continue  # a change rule only; neither kind was refused by SantokitPlugins
        for issue in rule.lint(schema):
            rel: YamlPath = ("columns", issue.column) if issue.column else ()
            found.append(sources.finding(issue.table, rel, issue.message, code=issue.code))
    return found


def validate_snapshot(snapshot: Snapshot, rules: Iterable[object] = ()) -> ValidationResult:
    """Every finding of the snapshot, and the IR of its schema (complete only when ``ok``).

    ``rules`` are diff rules from plugins; those with ``lint`` may reject the declared schema.
    """
    with gc_paused():
        return _validate(snapshot, rules)


def _validate(snapshot: Snapshot, rules: Iterable[object]) -> ValidationResult:
    findings: list[Finding] = []
    parsed = []
    for name in sorted(snapshot.schema_files):
        doc, problems = load_yaml(name, snapshot.schema_files[name])
        findings += problems
        if doc is None:
            continue
        structural = structural_findings(doc, SCHEMA_FILE)
        findings += structural
        # YAML-level problems (a bad key, a duplicate) already dropped the entry they concern:
        # only structural findings make a part unusable for the cross-field rules.
        parsed.append((doc, {f.path for f in structural}))
    schema, semantic, sources = build_schema(parsed)
    findings += semantic
    schema_ok = not errors_only(findings)
    policy = Policy()
    if snapshot.permissions_file is not None:
        doc, problems = load_yaml(PERMISSIONS_PATH, snapshot.permissions_file)
        findings += problems
        if doc is not None:
            structural = structural_findings(doc, PERMISSIONS_FILE)
            findings += structural
            if schema_ok:  # against a broken schema, every table would look unknown
                policy, checked = check_permissions(doc, schema, structural)
                findings += checked
    if schema_ok:
        findings += _lint(schema, sources, rules)
    return ValidationResult(schema, sorted(set(findings), key=Finding.sort_key), sources, policy)
