"""Secrets at rest: connection URLs encrypted with AES-GCM under the Hub's master key (hub.md §1).

The master key comes from ``STK_HUB_MASTER_KEY`` (base64, 32 bytes) or, when unset, from a file
the Hub creates in its data directory with mode 0600. Losing it loses the stored URLs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from santokit.core.errors import UsageError

KEY_FILE = "master.key"


class SecretBox:
    """Encrypts and decrypts small secrets; ``key_id`` names the key in stored rows."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise UsageError("the master key must be 32 bytes (base64 of 32 random bytes)")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:16]

    def encrypt(self, plaintext: str, context: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def decrypt(self, blob: bytes, context: str) -> str:
        return self._aead.decrypt(blob[:12], blob[12:], context.encode()).decode()


def load_master_key(data_dir: Path) -> tuple[bytes, Path | None]:
    """The key, and the file it was created in (None when it came from the environment)."""
    given = os.environ.get("STK_HUB_MASTER_KEY")
    if given:
        try:
            key = base64.b64decode(given, validate=True)
        except (binascii.Error, ValueError):
            raise UsageError("STK_HUB_MASTER_KEY is not valid base64") from None
        return key, None
    path = data_dir / KEY_FILE
    if path.exists():
        return base64.b64decode(path.read_text().strip()), None
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.b64encode(key).decode() + "\n")
    return key, path


from santokit.core.redact import redact_url, scrub  # noqa: E402 - re-exported for the routes

__all__ = ["SecretBox", "load_master_key", "redact_url", "scrub"]
