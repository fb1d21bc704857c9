"""End-user JWTs verified by the Bridge: keys made here, the JWKS served from a file and from a
real HTTP server on loopback, and every forgery of bridge.md §7 refused."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from santokit.bridge.tokens import REFUSED, JwtVerifier
from santokit.core.errors import Unauthorized

AUD, ISS = "shop-app", "https://id.example.com/"


def jwk_of(private: Any, kid: str) -> dict[str, Any]:
    public = private.public_key()
    if isinstance(private, rsa.RSAPrivateKey):
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
    elif isinstance(private, ec.EllipticCurvePrivateKey):
        data = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
    else:
        data = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(public))
    return {**data, "kid": kid}


KEYS = {
    "ES256": ec.generate_private_key(ec.SECP256R1()),
    "EdDSA": ed25519.Ed25519PrivateKey.generate(),
    "RS256": rsa.generate_private_key(public_exponent=65537, key_size=2048),
}


def token(alg: str = "ES256", kid: str | None = None, **claims: Any) -> str:
    body = {"sub": "user-1", "aud": AUD, "iss": ISS, "exp": int(time.time()) + 600, "roles": ["a"]}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode(body, KEYS[alg], algorithm=alg, headers={"kid": kid or alg})


def jwks(*algs: str) -> bytes:
    return json.dumps({"keys": [jwk_of(KEYS[a], a) for a in algs]}).encode()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def verify(verifier: JwtVerifier, tok: str) -> Any:
    return run(verifier.verify(tok))


def refused(verifier: JwtVerifier, tok: str) -> None:
    with pytest.raises(Unauthorized) as info:
        verify(verifier, tok)
    assert info.value.message == REFUSED
    assert tok not in info.value.message


@pytest.fixture
def from_file(tmp_path: Path) -> JwtVerifier:
    path = tmp_path / "jwks.json"
    path.write_bytes(jwks("ES256", "EdDSA", "RS256"))
    return JwtVerifier(jwks_file=path, issuer=ISS, audience=AUD, refresh_min_s=0.2)


@pytest.mark.parametrize("alg", sorted(KEYS))
def test_a_good_token_of_each_algorithm(from_file: JwtVerifier, alg: str) -> None:
    user = verify(from_file, token(alg))
    assert user.sub == "user-1"
    assert user.roles == ("a",)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_forgeries_are_refused(from_file: JwtVerifier) -> None:
    good = token()
    head, body, sig = good.split(".")
    other = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(json.loads(base64.urlsafe_b64decode(body + "==")), other, "ES256",
                        headers={"kid": "ES256"})  # fmt: skip
    none = b64(b'{"alg":"none","kid":"ES256"}') + "." + body + "."
    for bad in [
        forged,
        none,
        head + "." + body + "." + sig[:-4] + "AAAA",
        token(exp=int(time.time()) - 120),  # expired past the 30 s leeway
        token(nbf=int(time.time()) + 600),  # not yet valid
        token(aud="another-app"),
        token(iss="https://evil.example.com/"),
        token(exp=None),  # exp is required
        token(sub=None),  # sub is required
        token(kid="unknown"),
        "not.a.token",
        "x" * 9000,
    ]:
        refused(from_file, bad)


def test_hs256_signed_with_the_public_key_pem_is_refused(from_file: JwtVerifier) -> None:
    """The classic confusion attack, made with PyJWT itself when it lets us."""
    pem = (
        KEYS["RS256"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    import hashlib
    import hmac

    header = b64(b'{"alg":"HS256","kid":"RS256","typ":"JWT"}')
    body = b64(json.dumps({"sub": "x", "aud": AUD, "iss": ISS, "exp": time.time() + 60}).encode())
    sig = b64(hmac.new(pem, f"{header}.{body}".encode(), hashlib.sha256).digest())
    refused(from_file, f"{header}.{body}.{sig}")


def test_a_malformed_roles_claim_grants_nothing(from_file: JwtVerifier) -> None:
    assert verify(from_file, token(roles="admin")).roles == ()
    assert verify(from_file, token(roles=None)).roles == ()


class Jwks(http.server.BaseHTTPRequestHandler):
    body = b""
    fetches = 0
    status = 200
    cache = "max-age=3600"

    def do_GET(self) -> None:
        type(self).fetches += 1
        self.send_response(type(self).status)
        self.send_header("Cache-Control", type(self).cache)
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[Jwks]]]:
    handler = type("Handler", (Jwks,), {"body": jwks("ES256"), "fetches": 0})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json", handler
    finally:
        httpd.shutdown()


def test_jwks_from_a_server_is_cached_and_refreshed_on_rotation(
    server: tuple[str, type[Jwks]],
) -> None:
    url, handler = server

    async def scenario() -> None:
        verifier = JwtVerifier(jwks_url=url, audience=AUD, refresh_min_s=0.5)
        assert (await verifier.verify(token("ES256"))).sub == "user-1"
        await verifier.verify(token("ES256"))
        assert handler.fetches == 1  # max-age=3600: read once
        # an unknown kid: one read again (refresh_min_s after the last), then no more within
        # refresh_min_s, even for concurrent verifications
        await asyncio.sleep(0.6)
        results = await asyncio.gather(
            *(verifier.verify(token("EdDSA")) for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, Unauthorized) for r in results)
        assert handler.fetches == 2
        # the provider rotates in the new key: picked up after refresh_min_s
        handler.body = jwks("ES256", "EdDSA")
        await asyncio.sleep(0.6)
        assert (await verifier.verify(token("EdDSA"))).sub == "user-1"
        assert handler.fetches == 3
        # the provider goes down: the last good keys still verify
        handler.status = 500
        await asyncio.sleep(0.6)
        with pytest.raises(Unauthorized):
            await verifier.verify(token("RS256"))  # unknown kid: a read that fails
        assert (await verifier.verify(token("EdDSA"))).sub == "user-1"

    run(scenario())


def test_an_unreachable_jwks_is_bounded_and_refuses() -> None:
    async def scenario() -> float:
        verifier = JwtVerifier(jwks_url="http://127.0.0.1:9/jwks", fetch_timeout_s=1)
        start = time.monotonic()
        with pytest.raises(Unauthorized):
            await verifier.verify(token())
        return time.monotonic() - start

    assert run(scenario()) < 5
