"""The Hub's answers as errors, apart from the client so ``stk`` can catch them without loading
httpx (see ``app.main``)."""

from __future__ import annotations

from typing import Any

from santokit.core.errors import SantokitError


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


class TokenRefused(HubError):
    """The Hub refused the token this machine sent (logged out, expired, revoked): exit 2 like
    "not logged in", since the fix is the same, ``stk login`` (cli.md §3)."""


class HubUnreachable(SantokitError):
    code = "HUB_UNREACHABLE"
