"""A release's content as one value (hub.md §5): built by the Hub's apply, parsed everywhere else.

A release is the schema IR per connection and the compiled permission artifacts (keyed by
compiler name), plus the ``ref`` it was made from. Its digest is the sha256 of the canonical
JSON of ``{"schema", "permissions"}`` only, so the same content released from another ref is
the same release. The store keeps ``to_snapshot()``; the Hub's ``/internal/releases/{id}``
serves ``to_json()`` with the row's metadata, and the Bridge reads that back with
``Release.from_json``: this module is the one parser of release content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType

from .errors import MalformedRelease, format_path
from .ir import (
    Column,
    ConnectionSchema,
    IdColumn,
    ItemType,
    Json,
    Schema,
    Table,
    canonical_json,
    digest,
)
from .logical import LOGICAL

POLICY_ARTIFACT = "policy"  # the built-in compiler's artifact, the one every release carries


def _freeze(value: Json) -> Json:
    """A read-only deep copy: objects become mapping proxies and arrays tuples, so no caller can
    change a release's content (and so its digest) after the fact."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Json) -> Json:
    """Plain JSON data (dicts and lists) from a frozen value, for serialisers."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Release:
    """The content of one release; equal content means equal digest, whatever the ref.

    ``permissions`` is kept exactly as compiled (``None`` when the release has none, or the
    raw permissions document for releases made before permissions were compiled), because the
    digest covers it byte for byte; ``artifacts`` is the typed view.
    """

    schema: Schema
    permissions: Json = None
    ref: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", _freeze(self.permissions))

    @classmethod
    def build(cls, schema: Schema, artifacts: Mapping[str, Json] | None, ref: str) -> Release:
        """The release of ``schema`` with the compiled ``artifacts`` (``None``: none)."""
        return cls(schema, artifacts, ref)

    # -- views ---------------------------------------------------------------------------------
    @property
    def artifacts(self) -> Mapping[str, Json]:
        """The compiled artifacts by compiler name; empty for a release without compiled
        permissions (none at all, or made before compilation: no ``policy`` artifact)."""
        perms = self.permissions
        if isinstance(perms, Mapping) and POLICY_ARTIFACT in perms:
            return perms
        return MappingProxyType({})

    @property
    def policy(self) -> Mapping[str, Json] | None:
        """The compiled policy of permissions.md §4, or None."""
        policy = self.artifacts.get(POLICY_ARTIFACT)
        return policy if isinstance(policy, Mapping) else None

    @cached_property
    def permissions_digest(self) -> str:
        return digest(_thaw(self.permissions))

    # -- forms ---------------------------------------------------------------------------------
    def content(self) -> Json:
        """What the digest covers: the schema IR and the compiled permissions."""
        return {"schema": self.schema.to_json(), "permissions": _thaw(self.permissions)}

    def canonical_json(self) -> bytes:
        return canonical_json(self.content())

    @cached_property
    def digest(self) -> str:
        """``sha256:<hex>`` of the canonical JSON of the content (cached: the value is frozen)."""
        return digest(self.content())

    def to_json(self) -> Json:
        """The content and the ref: the stored snapshot, and the body of what the Bridge reads."""
        return {**self.content(), "ref": self.ref}

    def to_snapshot(self) -> str:
        """The text the store keeps (its form predates this value; kept as it was)."""
        return json.dumps(self.to_json(), sort_keys=True)

    # -- parsing -------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, text: str | bytes) -> Release:
        """Parse a stored snapshot or a served release; see ``parse``."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
            raise MalformedRelease(f"release content is not JSON: {where}") from None
        except ValueError:  # bytes that are not UTF-8
            raise MalformedRelease("release content is not JSON: not UTF-8 text") from None
        except RecursionError:
            raise MalformedRelease("release content is nested too deeply") from None
        return cls.parse(data)

    @classmethod
    def parse(cls, data: Json) -> Release:
        """The release in ``data``, or MalformedRelease naming the first bad part.

        Keys beside ``schema``, ``permissions`` and ``ref`` (the served metadata: releaseId,
        createdAt, ...) are ignored; a ``digest`` key, when present, must be the content's.
        """
        if not isinstance(data, Mapping):
            raise MalformedRelease("release content is not a JSON object")
        ref = data.get("ref", "")
        if not isinstance(ref, str):
            raise MalformedRelease("release content is malformed at ref: not a string")
        permissions = data.get("permissions")
        if permissions is not None and not isinstance(permissions, Mapping):
            raise MalformedRelease("release content is malformed at permissions: not an object")
        try:
            release = cls(_parse_schema(data.get("schema")), permissions, ref)
        except RecursionError:
            raise MalformedRelease("release content is nested too deeply") from None
        stated = data.get("digest")
        if stated is not None and stated != release.digest:
            raise MalformedRelease(
                f"release content does not match its digest {str(stated)[:80]!r}: it was changed "
                "or truncated on the way"
            )
        return release


def _parse_schema(data: Json) -> Schema:
    if not isinstance(data, Mapping):
        raise MalformedRelease("release content is malformed at schema: not an object")
    conns = data.get("connections")
    if not isinstance(conns, Mapping):
        raise MalformedRelease("release content is malformed at schema.connections: not an object")
    out = []
    for conn, body in conns.items():
        tables = body.get("tables") if isinstance(body, Mapping) else None
        if not isinstance(tables, Mapping):
            where = format_path(("schema", "connections", str(conn)[:60], "tables"))
            raise MalformedRelease(f"release content is malformed at {where}: not an object")
        out.append(
            ConnectionSchema(conn, tuple(_parse_table(conn, n, t) for n, t in tables.items()))
        )
    return Schema(tuple(out))


def _parse_table(conn: str, name: str, data: Json) -> Table:
    parts = ("schema", "connections", str(conn)[:60], "tables", str(name)[:60])
    where = format_path(parts)
    try:
        table = Table.from_json(name, data)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        what = f"missing {exc.args[0]!r}" if isinstance(exc, KeyError) else "wrong shape"
        raise MalformedRelease(f"release content is malformed at {where}: {what}") from None
    every: list[IdColumn | Column] = [table.id, *table.columns]
    for column in every:
        items: ItemType | None = getattr(column, "items", None)
        for type_name in (column.type, *_item_types(items)):
            if type_name not in LOGICAL:
                raise MalformedRelease(
                    "release content is malformed at "
                    f"{format_path((*parts, 'columns', str(column.name)[:60]))}: unknown "
                    f"logical type {str(type_name)[:40]!r}"
                )
    return table


def _item_types(items: ItemType | None) -> list[str]:
    out = []
    while items is not None:
        out.append(items.type)
        items = items.items
    return out
