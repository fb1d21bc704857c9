"""Operator authentication: argon2id password hashes, opaque tokens stored as sha256 (hub.md §8)."""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


def token_ttl() -> timedelta:
    """12 hours, or ``STK_HUB_SESSION_TTL_S`` seconds (short sessions for tests and audits)."""
    return timedelta(seconds=float(os.environ.get("STK_HUB_SESSION_TTL_S") or 12 * 3600))


ROLES = ("viewer", "deployer", "admin")  # ordered: each includes the ones before it

_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps login time independent of it.
_DUMMY = _hasher.hash("santokit-no-such-operator")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str, str]:
    """(token, its sha256, expiry): only the hash is stored."""
    token = "stkop_" + secrets.token_urlsafe(32)
    expires = (datetime.now(UTC) + token_ttl()).strftime("%Y-%m-%dT%H:%M:%SZ")
    return token, token_hash(token), expires


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def project_role(org_role: str, memberships: dict[str, str], project: str) -> str | None:
    """The operator's effective role in ``project``: org owners and admins are project admins."""
    if org_role in ("owner", "admin"):
        return "admin"
    return memberships.get(project)


def allows(role: str | None, needed: str) -> bool:
    return role is not None and ROLES.index(role) >= ROLES.index(needed)
