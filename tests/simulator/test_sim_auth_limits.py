"""Authentication, scopes and HubSpot's rate-limit policies (small windows keep this fast)."""

from __future__ import annotations

import time

import httpx

from affiliate_sync.simulator import RateLimitConfig, SimulatorServer
from simtest_helpers import TOKEN, http_client

SEARCH = "/crm/v3/objects/contacts/search"
RATE_HEADERS = ("x-hubspot-ratelimit-max", "x-hubspot-ratelimit-remaining", "x-hubspot-ratelimit-interval-milliseconds")


def test_missing_or_wrong_token_is_401_invalid_authentication(server: SimulatorServer) -> None:
    anonymous = http_client(server.url, token=None)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = anonymous.post(SEARCH, json={}, headers=headers)
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["message"].startswith("Authentication credentials not found")
        assert body["correlationId"]
    assert server.stats.snapshot()["statuses"] == {"401": 3}


def test_missing_scope_is_403_with_required_granular_scopes(server: SimulatorServer, client: httpx.Client) -> None:
    server.set_missing_scopes("crm.objects.contacts.read")
    response = client.post(SEARCH, json={})
    assert response.status_code == 403
    body = response.json()
    assert body["category"] == "MISSING_SCOPES" and body["status"] == "error" and body["correlationId"]
    assert body["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.read"]
    assert client.post("/crm/v3/objects/deals/search", json={}).status_code == 200


def test_write_scope_is_checked_separately(server: SimulatorServer, client: httpx.Client) -> None:
    server.set_missing_scopes("crm.objects.custom.write", "crm.schemas.custom.write")
    assert client.get("/crm/v3/objects/2-197867933").status_code == 200
    update = client.post("/crm/v3/objects/2-197867933/batch/update", json={"inputs": []})
    assert update.status_code == 403
    assert update.json()["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.custom.write"]
    assert client.patch("/crm/v3/properties/2-197867933/level", json={"options": []}).status_code == 403


def test_search_over_five_per_second_is_429_secondly_without_headers(client: httpx.Client, server: SimulatorServer) -> None:
    server.set_rate_limits(True)  # HubSpot's defaults: 5 searches per rolling second
    statuses: list[int] = []
    limited: httpx.Response | None = None
    for _ in range(12):  # bounded: the sixth within a second must be refused
        response = client.post(SEARCH, json={})
        statuses.append(response.status_code)
        assert not any(name in response.headers for name in RATE_HEADERS)
        if response.status_code == 429:
            limited = response
            break
    assert limited is not None and statuses.count(200) <= 5
    body = limited.json()
    assert body == {**body, "status": "error", "message": "You have reached your secondly limit.",
                    "errorType": "RATE_LIMIT", "policyName": "SECONDLY", "category": "RATE_LIMITS"}
    assert body["correlationId"]
    assert "retry-after" not in limited.headers
    assert server.stats.rate_limited == 1


def test_search_window_rolls(client: httpx.Client, server: SimulatorServer) -> None:
    server.set_rate_limits(True, search_max=2, search_window_seconds=0.3)
    assert [client.post(SEARCH, json={}).status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(0.35)
    assert client.post(SEARCH, json={}).status_code == 200


def test_other_endpoints_carry_headers_and_429_ten_secondly(client: httpx.Client, server: SimulatorServer) -> None:
    server.set_rate_limits(True, burst_max=3, burst_window_seconds=10.0)
    remaining = []
    for _ in range(3):
        response = client.get("/crm/v3/objects/contacts")
        assert response.status_code == 200
        assert response.headers["x-hubspot-ratelimit-max"] == "3"
        assert response.headers["x-hubspot-ratelimit-interval-milliseconds"] == "10000"
        remaining.append(response.headers["x-hubspot-ratelimit-remaining"])
    assert remaining == ["2", "1", "0"]
    refused = client.get("/crm/v3/objects/contacts")
    assert refused.status_code == 429
    assert refused.json()["policyName"] == "TEN_SECONDLY_ROLLING" and refused.json()["errorType"] == "RATE_LIMIT"
    assert refused.headers["x-hubspot-ratelimit-remaining"] == "0"
    # Search has its own policy: the burst being spent does not touch it.
    assert client.post(SEARCH, json={}).status_code == 200


def test_limits_are_per_token(server: SimulatorServer) -> None:
    server.set_rate_limits(True, search_max=1, search_window_seconds=5)
    anonymous = http_client(server.url, token=None)
    server.config.token = "first"
    first = anonymous.post(SEARCH, json={}, headers={"Authorization": "Bearer first"})
    again = anonymous.post(SEARCH, json={}, headers={"Authorization": "Bearer first"})
    server.config.token = "second"
    other = anonymous.post(SEARCH, json={}, headers={"Authorization": "Bearer second"})
    assert (first.status_code, again.status_code, other.status_code) == (200, 429, 200)


def test_rate_limits_toggle_over_http(server: SimulatorServer, client: httpx.Client) -> None:
    config = client.post("/_simulator/config", json={"rate_limits": {"enabled": True, "search_max": 1, "search_window_seconds": 5}})
    assert config.status_code == 200 and config.json()["rate_limits"]["search_max"] == 1
    assert [client.post(SEARCH, json={}).status_code for _ in range(2)] == [200, 429]
    client.post("/_simulator/config", json={"rate_limits": {"enabled": False}}).raise_for_status()
    assert client.post(SEARCH, json={}).status_code == 200
    assert client.post("/_simulator/config", json={"rate_limits": {"nonsense": 1}}).status_code == 400


def test_daily_policy_when_configured(server: SimulatorServer, client: httpx.Client) -> None:
    server.set_rate_limits(True, daily_max=2)
    first = client.get("/crm/v3/objects/contacts")
    assert first.headers["x-hubspot-ratelimit-daily"] == "2" and first.headers["x-hubspot-ratelimit-daily-remaining"] == "1"
    client.post(SEARCH, json={})
    refused = client.get("/crm/v3/objects/contacts")
    assert refused.status_code == 429 and refused.json()["policyName"] == "DAILY"


def test_constructor_accepts_a_rate_limit_config() -> None:
    with SimulatorServer(token=TOKEN, rate_limits=RateLimitConfig(search_max=1, search_window_seconds=5)) as sim:
        with http_client(sim.url) as http:
            codes = [http.post(SEARCH, json={}).status_code for _ in range(2)]
        assert codes == [200, 429]
