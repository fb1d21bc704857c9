"""End-user tokens verified by the Bridge (bridge.md §1): JWTs of the team's own identity
provider, checked locally against its JWKS with PyJWT.

Algorithms are pinned to asymmetric ones (ES256, EdDSA, RS256): ``alg: none`` and HS256 (the
public key used as an HMAC secret) never verify. ``exp`` and ``sub`` are required, 30 s leeway;
issuer and audience are checked when set. The key is chosen by ``kid``; a token without one is
accepted only when the JWKS holds exactly one key. The JWKS comes from a file or a URL; an
unknown ``kid`` makes it read again, at most every ``refresh_min_s``, one read at a time, and a
JWKS that cannot be read keeps the last good one. Every refusal is one ``Unauthorized`` message
that never holds the token.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from santokit.core.errors import Unauthorized

ALGORITHMS = ("ES256", "EdDSA", "RS256")
MAX_TOKEN_BYTES = 8 * 1024
MAX_JWKS_BYTES = 256 * 1024
REFUSED = "the access token is not valid"
_MAX_AGE = re.compile(r"max-age=(\d+)")


@dataclass(frozen=True)
class EndUser:
    sub: str
    roles: tuple[str, ...]


class JwtVerifier:
    def __init__(
        self,
        *,
        jwks_url: str | None = None,
        jwks_file: Path | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        roles_claim: str = "roles",
        leeway_s: float = 30,
        refresh_min_s: float = 30,
        fetch_timeout_s: float = 5,
    ) -> None:
        if (jwks_url is None) == (jwks_file is None):
            raise ValueError("give exactly one of jwks_url and jwks_file")
        self.jwks_url, self.jwks_file = jwks_url, jwks_file
        self.issuer, self.audience, self.roles_claim = issuer, audience, roles_claim
        self.leeway_s, self.refresh_min_s, self.fetch_timeout_s = (
            leeway_s,
            refresh_min_s,
            fetch_timeout_s,
        )
        self.keys: dict[str, Any] = {}  # kid ("" when the JWKS key has none) -> key object
        self.fetches = 0
        self._loaded_at = -float("inf")
        self._expires_at = -float("inf")
        self._lock = asyncio.Lock()

    # -- the JWKS --------------------------------------------------------------------------
    async def _refresh(self, *, because_unknown: bool) -> None:
        async with self._lock:
            now = time.monotonic()
            if because_unknown and now - self._loaded_at < self.refresh_min_s:
                return  # read recently (maybe by the verification we waited for)
            if not because_unknown and now < self._expires_at:
                return
            self._loaded_at = now
            self.fetches += 1
            try:
                text, max_age = await self._read()
                self.keys = _parse_jwks(text)
                self._expires_at = now + max(max_age, self.refresh_min_s)
            except (OSError, ValueError, jwt.PyJWTError):
                # keep the last good keys; try again after refresh_min_s
                self._expires_at = now + self.refresh_min_s

    async def _read(self) -> tuple[bytes, float]:
        if self.jwks_file is not None:
            path = self.jwks_file
            data = await asyncio.to_thread(lambda: path.read_bytes()[: MAX_JWKS_BYTES + 1])
            max_age = float("inf")  # a file is read again only for an unknown kid
        else:
            import httpx

            assert self.jwks_url is not None
            try:
                async with httpx.AsyncClient(timeout=self.fetch_timeout_s) as client:
                    response = await client.get(self.jwks_url)
            except httpx.HTTPError as exc:
                raise OSError(f"the JWKS could not be read: {type(exc).__name__}") from None
            if response.status_code != 200:
                raise OSError(f"the JWKS answered {response.status_code}")
            data = response.content
            found = _MAX_AGE.search(response.headers.get("cache-control", ""))
            max_age = float(found.group(1)) if found else 300.0
        if len(data) > MAX_JWKS_BYTES:
            raise ValueError("the JWKS is too large")
        return data, max_age

    # -- tokens ----------------------------------------------------------------------------
    async def verify(self, token: str) -> EndUser:
        if len(token.encode("utf-8", "surrogatepass")) > MAX_TOKEN_BYTES:
            raise Unauthorized(REFUSED)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized(REFUSED) from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized(REFUSED)
        await self._refresh(because_unknown=False)
        key = self._key(header)
        if key is None:
            await self._refresh(because_unknown=True)
            key = self._key(header)
        if key is None:
            raise Unauthorized(REFUSED)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError:
            raise Unauthorized(REFUSED) from None
        sub, roles = claims.get("sub"), claims.get(self.roles_claim, [])
        if not isinstance(sub, str) or not sub:
            raise Unauthorized(REFUSED)
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            roles = []  # a malformed roles claim grants nothing beyond authenticated
        return EndUser(sub, tuple(roles))

    def _key(self, header: dict[str, Any]) -> Any:
        kid = header.get("kid")
        if isinstance(kid, str):
            return self.keys.get(kid)
        if kid is None and len(self.keys) == 1:
            return next(iter(self.keys.values()))
        return None


def _parse_jwks(text: bytes) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError("not a JWKS")
    keys: dict[str, Any] = {}
    for jwk in data["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") not in ("EC", "OKP", "RSA"):
            continue  # symmetric ("oct") keys are never used
        try:
            keys[str(jwk.get("kid", ""))] = jwt.PyJWK(jwk).key
        except jwt.PyJWTError:
            continue
    return keys
