"""The Hub's HTTP contract, spoken to directly: envelopes, request ids, auth, health, metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .e2e import PASSWORD, HubProcess, hub_with_operator


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    process = hub_with_operator(
        tmp_path,
        STK_HUB_SESSION_TTL_S="600",  # long: a loaded CI machine must not expire the tests
        STK_BRIDGE_TOKENS="bridge-token-for-the-api-tests-0001",
    )
    try:
        yield process
    finally:
        process.stop()


def login(hub: HubProcess) -> dict[str, str]:
    r = httpx.post(
        f"{hub.url}/v1/auth/login", json={"email": "ops@example.com", "password": PASSWORD}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def error_of(response: httpx.Response) -> dict[str, object]:
    body = response.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert err["requestId"] == response.headers["x-request-id"]
    assert err["requestId"].startswith("req_")
    return err


def test_errors_are_envelopes_with_request_ids(hub: HubProcess) -> None:
    auth = login(hub)
    cases = [
        (httpx.get(f"{hub.url}/v1/nowhere"), 404, "NOT_FOUND"),
        (httpx.get(f"{hub.url}/v1/projects"), 401, "UNAUTHORIZED"),
        (
            httpx.get(f"{hub.url}/v1/projects", headers={"Authorization": "Bearer nope"}),
            401,
            "UNAUTHORIZED",
        ),
        (httpx.post(f"{hub.url}/v1/projects", json={"nam": "x"}, headers=auth), 400, "BAD_REQUEST"),
        (
            httpx.post(f"{hub.url}/v1/projects", content=b"{not json", headers=auth),
            400,
            "BAD_REQUEST",
        ),
        (
            httpx.post(f"{hub.url}/v1/projects", json={"name": "Bad Name"}, headers=auth),
            400,
            "BAD_REQUEST",
        ),
        (
            httpx.post(f"{hub.url}/v1/auth/login", json={"email": "x@y.z", "password": "no"}),
            401,
            "UNAUTHORIZED",
        ),
        (httpx.get(f"{hub.url}/v1/projects/nope/envs", headers=auth), 404, "NOT_FOUND"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert error_of(response)["code"] == code
    missing = error_of(cases[3][0])
    assert "name" in str(missing["message"])


def test_every_response_has_a_request_id_and_health_is_public(hub: HubProcess) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/schema/openapi.json"):
        r = httpx.get(f"{hub.url}{path}")
        assert r.status_code == 200, path
        assert r.headers["x-request-id"].startswith("req_")
    assert httpx.get(f"{hub.url}/healthz").json() == {"ok": True}
    paths = httpx.get(f"{hub.url}/schema/openapi.json").json()["paths"]
    assert "/v1/projects" in paths
    assert not any(p.startswith("/internal") for p in paths)


def test_sessions_expire(tmp_path: Path) -> None:
    hub = hub_with_operator(tmp_path, STK_HUB_SESSION_TTL_S="2")
    try:
        auth = login(hub)
        assert httpx.get(f"{hub.url}/v1/auth/whoami", headers=auth).status_code == 200
        time.sleep(2.5)
        r = httpx.get(f"{hub.url}/v1/auth/whoami", headers=auth)
        assert r.status_code == 401
        assert "expired" in str(error_of(r)["message"])
    finally:
        hub.stop()


def test_metrics_and_audit(hub: HubProcess) -> None:
    auth = login(hub)
    assert (
        httpx.post(f"{hub.url}/v1/projects", json={"name": "shop"}, headers=auth).status_code == 201
    )
    httpx.post(f"{hub.url}/v1/projects/shop/envs", json={"name": "dev"}, headers=auth)
    url = "postgresql://app:Sup3rSecret@127.0.0.1:1/app"
    r = httpx.put(
        f"{hub.url}/v1/projects/shop/envs/dev/connections/main",
        json={"engine": "postgres", "dbUrl": url},
        headers=auth,
    )
    assert r.json()["dbUrl"] == "postgresql://app:***@127.0.0.1:1/app"
    r = httpx.post(f"{hub.url}/v1/projects/shop/envs/dev/connections/main/test", headers=auth)
    assert r.status_code == 502
    assert error_of(r)["code"] == "CONNECTION_FAILED"
    response = httpx.get(f"{hub.url}/v1/projects/shop/audit", headers=auth)
    assert response.status_code == 200, response.text
    events = response.json()
    assert [e["action"] for e in events] == [
        "connection.test",
        "connection.set",
        "env.create",
        "project.create",
    ]
    assert all(e["requestId"].startswith("req_") for e in events)
    assert "Sup3rSecret" not in str(events)
    text = httpx.get(f"{hub.url}/metrics").text
    assert 'stk_hub_requests_total{method="POST",route="/v1/projects",status="201"} 1' in text
    assert "stk_hub_request_duration_seconds_count" in text
    assert 'stk_hub_schema_applies_total{result="ok"} 0' in text
    assert "Sup3rSecret" not in hub.log.read_text()


def test_hostile_requests_get_clear_4xx(hub: HubProcess) -> None:
    auth = login(hub)
    huge = httpx.post(
        f"{hub.url}/v1/projects",
        content=b'{"name": "' + b"a" * 11_000_000 + b'"}',
        headers={**auth, "content-type": "application/json"},
    )
    assert huge.status_code == 400
    assert "too large" in str(error_of(huge)["message"])
    deep = httpx.post(
        f"{hub.url}/v1/auth/login",
        content=b'{"email": ' + b"[" * 3000 + b"]" * 3000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert deep.status_code == 400
    injected = httpx.get(f"{hub.url}/x%22%7D%201%0Aevil_metric%7Ba%3D%22b%22%7D%2042")
    assert injected.status_code == 400  # a newline in the path: refused before routing
    text = httpx.get(f"{hub.url}/metrics").text
    assert "evil_metric" not in text
    assert 'route="unmatched"' in text


def test_control_characters_in_names_and_ids_are_refused_before_the_store(
    hub: HubProcess,
) -> None:
    auth = login(hub)
    assert httpx.post(f"{hub.url}/v1/projects", json={"name": "shop"}, headers=auth).is_success
    bridge = {"Authorization": "Bearer bridge-token-for-the-api-tests-0001"}
    for path, headers in [
        ("/v1/projects/sh%00op", auth),
        ("/v1/projects/shop/envs/d%00ev/apikeys", auth),
        ("/v1/projects/shop/releases/rel_%01", auth),
        ("/internal/releases/%00", bridge),
        ("/internal/releases/current?project=shop%00&env=dev", bridge),
        ("/internal/connections?project=shop&env=dev%0A", bridge),
    ]:
        response = httpx.get(f"{hub.url}{path}", headers=headers)
        assert response.status_code == 400, (path, response.text)
        assert error_of(response)["message"] == "the URL holds a control character"
    long_name = httpx.get(f"{hub.url}/v1/projects/{'x' * 5000}", headers=auth)
    assert long_name.status_code == 404
    assert len(str(error_of(long_name)["message"])) < 120


def test_passwords_with_odd_characters_never_show(hub: HubProcess) -> None:
    auth = login(hub)
    httpx.post(f"{hub.url}/v1/projects", json={"name": "shop"}, headers=auth)
    httpx.post(f"{hub.url}/v1/projects/shop/envs", json={"name": "dev"}, headers=auth)
    for i, secret in enumerate(["pa/ss-W0rd", "pa#ss-W0rd", "pa?ss-W0rd", "pa@ss-W0rd"]):
        url = f"postgresql://app:{secret}@127.0.0.1:1/app"
        base = f"{hub.url}/v1/projects/shop/envs/dev/connections/c{i}"
        shown = httpx.put(base, json={"engine": "postgres", "dbUrl": url}, headers=auth).text
        failed = httpx.post(f"{base}/test", headers=auth).text
        for text in (shown, failed):
            assert secret not in text
            assert "W0rd" not in text
    audit = httpx.get(f"{hub.url}/v1/projects/shop/audit", headers=auth).text
    assert "W0rd" not in audit
    assert "W0rd" not in hub.log.read_text()


def test_apply_with_no_step_is_refused(hub: HubProcess) -> None:
    auth = login(hub)
    httpx.post(f"{hub.url}/v1/projects", json={"name": "shop"}, headers=auth)
    httpx.post(f"{hub.url}/v1/projects/shop/envs", json={"name": "dev"}, headers=auth)
    r = httpx.post(
        f"{hub.url}/v1/projects/shop/envs/dev/apply",
        headers=auth,
        json={
            "ref": "x",
            "only": [],
            "snapshot": {"schemaFiles": {"schema/a.yaml": "version: 1\n"}},
        },
    )
    assert r.status_code == 400
    assert "names no step" in str(error_of(r)["message"])
