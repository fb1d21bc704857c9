"""The Hub's own tables (hub.md §2); forward-only migrations keyed by a version number."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

schema_version = Table("stk_schema_version", metadata, Column("version", Integer, nullable=False))

operators = Table(
    "operators",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("org_role", String(16), nullable=False),  # owner | admin | member
    Column("status", String(16), nullable=False, default="active"),
    Column("created_at", String(32), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator_id", String(26), ForeignKey("operators.id"), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
)

projects = Table(
    "projects",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(320), nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("operator_id", String(26), ForeignKey("operators.id"), nullable=False),
    Column("project", String(63), ForeignKey("projects.name"), nullable=False),
    Column("role", String(16), nullable=False),  # admin | deployer | viewer
    UniqueConstraint("operator_id", "project"),
)

envs = Table(
    "envs",
    metadata,
    Column("project", String(63), ForeignKey("projects.name"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("created_at", String(32), nullable=False),
    UniqueConstraint("project", "name"),
)

connections = Table(
    "connections",
    metadata,
    Column("project", String(63), nullable=False),
    Column("env", String(63), nullable=False),
    Column("name", String(63), nullable=False),
    Column("engine", String(32), nullable=False),
    Column("url_ciphertext", LargeBinary, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("db_schema", String(63), nullable=False),
    Column("redacted_url", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("last_tested_at", String(32)),
    UniqueConstraint("project", "env", "name"),
)

releases = Table(
    "releases",
    metadata,
    Column("release_id", String(40), primary_key=True),
    Column("project", String(63), nullable=False),
    Column("digest", String(80), nullable=False),
    Column("ref", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("snapshot", Text, nullable=False),
    UniqueConstraint("project", "digest"),
)

env_pointers = Table(
    "env_pointers",
    metadata,
    Column("project", String(63), nullable=False),
    Column("env", String(63), nullable=False),
    Column("release_id", String(40), nullable=False),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("project", "env"),
)

pointer_history = Table(
    "pointer_history",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("project", String(63), nullable=False),
    Column("env", String(63), nullable=False),
    Column("from_release", String(40)),
    Column("to_release", String(40), nullable=False),
    Column("action", String(16), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("at", String(32), nullable=False),
)

applied_schemas = Table(
    "applied_schemas",
    metadata,
    Column("project", String(63), nullable=False),
    Column("env", String(63), nullable=False),
    Column("connection", String(63), nullable=False),
    Column("schema_json", Text, nullable=False),
    Column("digest", String(80), nullable=False),
    Column("applied_at", String(32), nullable=False),
    UniqueConstraint("project", "env", "connection"),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("at", String(32), nullable=False),
    Column("action", String(40), nullable=False),
    Column("actor", String(320), nullable=False),
    Column("project", String(63)),
    Column("env", String(63)),
    Column("request_id", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Index("audit_project_at", "project", "at"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("project", String(63), nullable=False),
    Column("env", String(63), nullable=False),
    Column("name", String(100), nullable=False),
    Column("roles", Text, nullable=False),  # a JSON list of role names
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256 hex of the whole key
    Column("status", String(16), nullable=False),  # active | revoked
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(320), nullable=False),
    Column("last_used_at", String(32)),
    Column("revoked_at", String(32)),
    Index("api_keys_project_env", "project", "env", "status"),
)

# One row, updated by /readyz: the Hub is ready only when the store takes a committed write.
health = Table(
    "stk_health",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", String(32), nullable=False),
)
# Rows a version's tables start with (inserted when the table is created).
SEED_ROWS = {health: ({"id": 1, "at": ""},)}

SCHEMA_VERSION = 3
# What each version added, for stores written by an older Hub (forward only): version -> tables.
ADDED_IN = {2: (api_keys,), 3: (health,)}
