"""Health, readiness and the Prometheus metrics, with the counters the metrics show."""

from __future__ import annotations

from collections import Counter
from typing import Any

from litestar import Router, get
from litestar.response import Response

from ..deps import HubDep

METRICS: Counter[tuple[str, str, int]] = Counter()  # (method, route template, status)
DURATION: dict[str, float] = {"sum": 0.0, "count": 0}
EVENTS: Counter[tuple[str, str]] = Counter()  # (metric, label) for applies and releases


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, bool]:
    return {"ok": True}


@get("/readyz", sync_to_thread=True)
def readyz(hub: HubDep) -> Response[dict[str, Any]]:
    """Ready only when the store takes a committed write: a readable but full or read-only
    store would fail every mutating call while a read-only probe said ready."""
    problem = hub.store.ready()
    if problem:
        return Response({"ok": False, "reason": problem}, status_code=503)
    return Response({"ok": True}, status_code=200)


@get("/metrics", media_type="text/plain", sync_to_thread=False)
def metrics() -> str:
    lines = ["# TYPE stk_hub_requests_total counter"]
    for (method, route, status), n in sorted(METRICS.items()):
        lines.append(
            f'stk_hub_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}'
        )
    lines += [
        "# TYPE stk_hub_request_duration_seconds summary",
        f"stk_hub_request_duration_seconds_sum {DURATION['sum']:.6f}",
        f"stk_hub_request_duration_seconds_count {int(DURATION['count'])}",
        "# TYPE stk_hub_schema_applies_total counter",
    ]
    for result in ("ok", "blocked", "failed"):
        lines.append(
            f'stk_hub_schema_applies_total{{result="{result}"}} {EVENTS[("applies", result)]}'
        )
    lines += [
        "# TYPE stk_hub_releases_created_total counter",
        f"stk_hub_releases_created_total {EVENTS[('releases', '')]}",
    ]
    return "\n".join(lines) + "\n"


# probes and scrapes, not the operator API: left out of the OpenAPI document
router = Router("/", route_handlers=[healthz, readyz, metrics], include_in_schema=False)
