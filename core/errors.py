"""Findings and errors shared by every layer.

A *finding* is one located problem in an operator's file. Validation never stops at the first
problem: it collects findings and reports them together, so these are plain values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]
PathPart = str | int
YamlPath = tuple[PathPart, ...]
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")


def format_path(path: Sequence[PathPart]) -> str:
    """Render a YAML path as operators write it: ``tables.posts.indexes[0].columns``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.fullmatch(part):
            out += f"[{json.dumps(part)}]"  # a key with odd characters stays unambiguous
        else:
            out += f".{part}" if out else part
    return out or "(root)"


@dataclass(frozen=True)
class Finding:
    """One problem in one file, at a 1-based line and column, under a YAML path."""

    file: str
    line: int
    col: int
    path: YamlPath
    message: str
    severity: Severity = "error"
    code: str = ""

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.col, format_path(self.path), self.message)

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        code = f" [{self.code}]" if self.code else ""
        where = f"{self.file}:{self.line}:{self.col}: {format_path(self.path)}"
        return f"{where}: {prefix}{self.message}{code}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.col,
            "path": format_path(self.path),
            "message": self.message,
            "severity": self.severity,
            "code": self.code,
        }


def errors_only(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


class SantokitError(Exception):
    """Base of every error Santokit raises on purpose; ``code`` is the stable API error code."""

    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, details: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)


class UsageError(SantokitError):
    """The caller asked for something impossible (missing folder, bad flag value)."""

    code = "BAD_REQUEST"


class PluginError(SantokitError):
    """An installed plugin breaks its contract (a duplicate engine name, an object missing what
    its protocol declares): a configuration error found at start, naming the plugin(s)."""

    code = "PLUGIN_ERROR"


@dataclass
class ValidationFailed(SantokitError):
    """The operator's files hold at least one error; ``findings`` holds all of them."""

    findings: list[Finding] = field(default_factory=list)
    code = "VALIDATION_FAILED"

    def __post_init__(self) -> None:
        n = len(errors_only(self.findings))
        SantokitError.__init__(
            self,
            f"{n} problem{'s' if n != 1 else ''} in the declared files",
            details=[f.to_json() for f in self.findings],
        )


class ConnectionFailed(SantokitError):
    """A customer database could not be reached or refused the login (never holds a password)."""

    code = "CONNECTION_FAILED"


class Conflict(SantokitError):
    """Another operation holds what this one needs (a concurrent apply, a duplicate name)."""

    code = "CONFLICT"


class ChangeBlocked(SantokitError):
    """A plan holds destructive or unsupported changes; ``details`` lists each with its remedy."""

    code = "CHANGE_BLOCKED"


class ApplyFailed(SantokitError):
    """A statement failed during apply; the transaction was rolled back, nothing was applied.

    Not CHANGE_BLOCKED: that code says the plan itself was refused (destructive changes), while
    here a safe plan met the live database (a constraint, a lock, a timeout)."""

    code = "APPLY_FAILED"


class ServiceUnavailable(SantokitError):
    """The Hub is at capacity for this work; ``retry_after`` says when to try again (s)."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(
        self, message: str, *, retry_after: int = 1, details: Sequence[object] = ()
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class Unauthorized(SantokitError):
    """No credential, or one that is not valid (one message for every reason: nothing about
    why a key or token was refused is revealed)."""

    code = "UNAUTHORIZED"


class Forbidden(SantokitError):
    """The caller's credentials are good but no permission rule lets it do this."""

    code = "FORBIDDEN"


class NotFound(SantokitError):
    """What the request names does not exist (a table not in the release)."""

    code = "NOT_FOUND"


class DataUnavailable(SantokitError):
    """The Bridge cannot serve from a customer database now (unreachable, restarting, the
    statement ran past its timeout): the request was fine and may be retried."""

    code = "SERVICE_UNAVAILABLE"


class StoreError(SantokitError):
    """The Hub's own store could not be read or written (full disk, read-only, unreachable):
    the operator's request was fine and may simply be retried when the store is back."""

    code = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class DriftDetected(SantokitError):
    code = "DRIFT_DETECTED"


class NotConverged(SantokitError):
    """After applying, the database still differs from the declaration: a Santokit bug."""

    code = "INTERNAL_ERROR"


class MalformedRelease(SantokitError):
    """Release content that does not parse as a release (a corrupt row, a truncated download):
    never served or enforced as if it were one. Its message names the first bad part."""

    code = "INTERNAL_ERROR"
