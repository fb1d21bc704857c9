"""The Hub client: JSON over HTTP with httpx, and the Hub's errors as exit codes."""

from __future__ import annotations

from typing import Any

import httpx

from santokit.core.errors import SantokitError, UsageError

from . import credentials

TIMEOUT = httpx.Timeout(connect=5.0, read=600.0, write=30.0, pool=5.0)


class HubError(SantokitError):
    """An error answer of the Hub: its code, message, requestId and details."""

    def __init__(
        self,
        code: str,
        message: str,
        request_id: str,
        details: list[Any],
        result: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{message} ({code}, requestId {request_id})", details=details)
        self.code = code
        self.hub_message = message
        self.request_id = request_id
        self.result = result  # a refused apply's plan


class HubUnreachable(SantokitError):
    code = "HUB_UNREACHABLE"


class HubClient:
    def __init__(self, hub: str, token: str | None = None, *, need_login: bool = True) -> None:
        self.hub = hub.rstrip("/")
        self.token = token if token is not None else credentials.load_token(self.hub)
        if need_login and not self.token:
            raise UsageError(f"not logged in to {self.hub}: run stk login")

    def request(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            with httpx.Client(base_url=self.hub, timeout=TIMEOUT) as http:
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
            raise HubError(
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
