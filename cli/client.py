"""The Hub client: JSON over HTTP with httpx, and the Hub's errors as exit codes.

httpx is imported by the first request, not with this module: httpx alone doubled the start-up
time of ``stk --version``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from santokit.core.errors import UsageError

from . import credentials
from .errors import HubError, HubUnreachable, TokenRefused

if TYPE_CHECKING:
    import ssl

__all__ = ["HubClient", "HubError", "HubUnreachable", "TokenRefused"]

# seconds: (connect, read, write, pool); read is long because an apply waits for its DDL
TIMEOUTS = {"connect": 5.0, "read": 600.0, "write": 30.0, "pool": 5.0}


def _httpx() -> Any:
    """httpx, imported without its own command-line client: ``httpx/__init__`` imports
    ``httpx._main`` (click, pygments, rich.syntax: 56 ms, a seventh of ``stk apply``'s start)
    whenever click is installed, and uvicorn installs it. A stand-in module is registered first
    unless something already imported the real one; stk never runs httpx's CLI."""
    import sys
    import types

    if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
        stand_in = types.ModuleType("httpx._main")

        def main() -> None:  # pragma: no cover - httpx's CLI, never run by stk
            raise SystemExit("the httpx command-line client is not available inside stk")

        stand_in.main = main  # type: ignore[attr-defined]
        sys.modules["httpx._main"] = stand_in
    import httpx

    return httpx


def _tls(hub: str) -> ssl.SSLContext | bool:
    """The CA bundle only for an https Hub: loading it costs ~50 ms of every command, and a
    plain-http Hub never uses it (redirects are not followed, so no request turns into https)."""
    import ssl

    if hub.lower().startswith("https:"):
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class HubClient:
    def __init__(self, hub: str, token: str | None = None, *, need_login: bool = True) -> None:
        self.hub = hub.rstrip("/")
        self.token = token if token is not None else credentials.load_token(self.hub)
        if need_login and not self.token:
            raise UsageError(f"not logged in to {self.hub}: run stk login")

    def request(self, method: str, path: str, body: Any = None) -> Any:
        httpx = _httpx()

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            with httpx.Client(
                base_url=self.hub, timeout=httpx.Timeout(**TIMEOUTS), verify=_tls(self.hub)
            ) as http:
                response = http.request(method, path, json=body, headers=headers)
        except httpx.ConnectError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else "no answer"
            raise HubUnreachable(f"cannot reach hub at {self.hub}: {reason}") from None
        except httpx.TimeoutException:
            raise HubUnreachable(f"cannot reach hub at {self.hub}: timed out") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise UsageError(f"{self.hub} is not a hub URL (expected http://host:port)") from None
        except httpx.HTTPError as exc:
            raise HubUnreachable(f"cannot reach hub at {self.hub}: {type(exc).__name__}") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code >= 400:
            err = (data or {}).get("error") if isinstance(data, dict) else None
            if not isinstance(err, dict):
                raise HubError(
                    "BAD_RESPONSE",
                    f"the hub answered {response.status_code}",
                    response.headers.get("x-request-id", "?"),
                    [],
                )
            # a 401 to a request that carried a token: the token is the problem; without one
            # (stk login's wrong password) the request itself was refused
            kind = TokenRefused if response.status_code == 401 and self.token else HubError
            raise kind(
                err.get("code", "?"),
                err.get("message", ""),
                err.get("requestId", "?"),
                err.get("details") or [],
                err.get("result") if isinstance(err.get("result"), dict) else None,
            )
        return data

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body if body is not None else {})

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body)
