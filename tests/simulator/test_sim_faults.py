"""Each fault kind, its matching rules, and the HTTP control API that drives them."""

from __future__ import annotations

import json

import httpx
import pytest

from affiliate_sync.simulator import SimulatorServer
from simtest_helpers import PARTNER_TYPE, contacts, http_client, search_body

SEARCH = "/crm/v3/objects/contacts/search"
RATE_HEADERS = ("x-hubspot-ratelimit-max", "x-hubspot-ratelimit-remaining", "x-hubspot-ratelimit-interval-milliseconds")


def test_status_fault_hits_the_next_n_matching_requests(server: SimulatorServer, client: httpx.Client) -> None:
    server.inject(kind="status", status=503, endpoint="search", count=2)
    assert [client.post(SEARCH, json={}).status_code for _ in range(3)] == [503, 503, 200]
    assert server.stats.snapshot()["faults_triggered"] == {"status": 2}
    assert server.faults.active() == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_have_hubspot_bodies(server: SimulatorServer, client: httpx.Client, status: int) -> None:
    server.inject(kind="status", status=status)
    response = client.get("/crm/v3/objects/contacts")
    assert response.status_code == status and response.json()["status"] == "error"


def test_skip_endpoint_and_object_type_filters(server: SimulatorServer, client: httpx.Client) -> None:
    server.inject(kind="status", status=500, endpoint="search", object_type="deals", skip=1)
    assert client.post(SEARCH, json={}).status_code == 200  # contacts: not matched
    assert client.get("/crm/v3/objects/deals").status_code == 200  # other endpoint: not matched
    assert client.post("/crm/v3/objects/deals/search", json={}).status_code == 200  # skipped
    assert client.post("/crm/v3/objects/deals/search", json={}).status_code == 500
    assert client.post("/crm/v3/objects/deals/search", json={}).status_code == 200


def test_injected_429_secondly_has_no_headers(server: SimulatorServer, client: httpx.Client) -> None:
    server.inject(kind="status", status=429, endpoint="search")
    response = client.post(SEARCH, json={})
    assert response.status_code == 429
    assert response.json()["policyName"] == "SECONDLY" and response.json()["errorType"] == "RATE_LIMIT"
    assert not any(name in response.headers for name in RATE_HEADERS) and "retry-after" not in response.headers
    assert server.stats.rate_limited == 1


def test_injected_429_ten_secondly_has_headers_and_optional_retry_after(server: SimulatorServer, client: httpx.Client) -> None:
    server.inject(kind="status", status=429, endpoint="batch_read", policy="TEN_SECONDLY_ROLLING", retry_after=2)
    response = client.post("/crm/v3/objects/contacts/batch/read", json={"inputs": []})
    assert response.status_code == 429
    assert response.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert response.headers["x-hubspot-ratelimit-remaining"] == "0"
    assert response.headers["x-hubspot-ratelimit-max"] == "190"
    assert response.headers["retry-after"] == "2"
    assert server.stats.snapshot()["rate_limited_by_policy"] == {"TEN_SECONDLY_ROLLING": 1}


def test_injected_401_and_403(server: SimulatorServer, client: httpx.Client) -> None:
    server.inject(kind="status", status=401, count=1)
    server.inject(kind="status", status=403, count=1)
    unauthorized = client.post(SEARCH, json={})
    assert unauthorized.status_code == 401 and unauthorized.json()["category"] == "INVALID_AUTHENTICATION"
    forbidden = client.post(SEARCH, json={})
    assert forbidden.status_code == 403 and forbidden.json()["category"] == "MISSING_SCOPES"
    assert forbidden.json()["errors"][0]["context"]["requiredGranularScopes"] == ["crm.objects.contacts.read"]


def test_raw_body_override_for_proxy_pages(server: SimulatorServer, client: httpx.Client) -> None:
    server.inject(kind="status", status=502, body="<html>Bad gateway</html>", content_type="text/html")
    response = client.post(SEARCH, json={})
    assert response.status_code == 502 and response.text == "<html>Bad gateway</html>"
    assert response.headers["content-type"] == "text/html"


def test_delay_triggers_a_client_read_timeout(server: SimulatorServer) -> None:
    server.inject(kind="delay", delay_seconds=1.0, endpoint="search")
    with http_client(server.url, timeout=0.2) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            impatient.post(SEARCH, json={})
        assert impatient.post(SEARCH, json={}).status_code == 200


def test_drop_closes_the_connection_mid_body(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts(*["AP-1"] * 50)})
    server.inject(kind="drop", endpoint="search")
    with pytest.raises(httpx.RemoteProtocolError):
        client.post(SEARCH, json={"limit": 50})
    assert client.post(SEARCH, json={"limit": 50}).json()["total"] == 50  # next one is fine
    assert server.stats.snapshot()["faults_triggered"] == {"drop": 1}


def test_malformed_body_is_200_with_unparsable_json(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts("AP-1", "AP-2")})
    server.inject(kind="malformed", endpoint="search")
    response = client.post(SEARCH, json={})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_empty_page_keeps_a_next_token_back_to_the_same_offset(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts(*["AP-1"] * 5)})
    server.inject(kind="empty_page", endpoint="search", skip=1)
    first = client.post(SEARCH, json={"limit": 2}).json()
    assert len(first["results"]) == 2
    empty = client.post(SEARCH, json={"limit": 2, "after": first["paging"]["next"]["after"]}).json()
    assert empty["results"] == [] and empty["paging"]["next"]["after"] == "2" and empty["total"] == 5
    resumed = client.post(SEARCH, json={"limit": 2, "after": "2"}).json()
    assert [r["id"] for r in resumed["results"]] == ["3", "4"]


def test_partial_batch_read_and_update(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts("AP-1", "AP-2", "AP-3")})
    server.inject(kind="partial_batch", endpoint="batch_read", fail_ids=["2"])
    read = client.post("/crm/v3/objects/contacts/batch/read", json={"inputs": [{"id": "1"}, {"id": "2"}, {"id": "3"}]})
    assert read.status_code == 207
    assert sorted(r["id"] for r in read.json()["results"]) == ["1", "3"]
    assert read.json()["errors"][0]["context"]["ids"] == ["2"]

    server.inject(kind="partial_batch", endpoint="batch_update", fail_count=1, error_category="VALIDATION_ERROR")
    inputs = [{"id": i, "properties": {"company": "New"}} for i in ("1", "2")]
    update = client.post("/crm/v3/objects/contacts/batch/update", json={"inputs": inputs})
    assert update.status_code == 207
    assert [r["id"] for r in update.json()["results"]] == ["2"]
    assert update.json()["errors"][0]["category"] == "VALIDATION_ERROR"
    assert server.store.get("contacts", "1").properties.get("company") is None  # failed input not applied
    assert server.store.get("contacts", "2").properties["company"] == "New"


def test_reassign_moves_records_between_pages(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts(*(["AP-A"] * 300 + ["AP-B"] * 10))})
    server.inject(kind="reassign", endpoint="search", skip=1, reassign_from="ap-a", reassign_to="AP-B", reassign_limit=50)
    body = search_body({"propertyName": "affiliate_partner_id", "operator": "EQ", "value": "AP-A"}, limit=200)
    first = client.post(SEARCH, json=body).json()
    assert first["total"] == 300
    second = client.post(SEARCH, json={**body, "after": first["paging"]["next"]["after"]}).json()
    # The 50 lowest ids moved away, so offset 200 now skips 50 records the client never saw.
    assert second["total"] == 250 and len(second["results"]) == 50
    assert second["results"][0]["id"] == "251"
    assert server.store.get("contacts", "1").properties["affiliate_partner_id"] == "AP-B"


def test_reassign_can_target_another_object_type(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"deals": [{"id": "1", "properties": {"affiliate_partner_id": "AP-A"}}]})
    server.inject(kind="reassign", endpoint="search", object_type="contacts", reassign_object_type="deals", reassign_from="AP-A", reassign_to="AP-Z")
    client.post(SEARCH, json={}).raise_for_status()
    assert server.store.get("deals", "1").properties["affiliate_partner_id"] == "AP-Z"


def test_one_fault_per_request_in_insertion_order(server: SimulatorServer, client: httpx.Client) -> None:
    server.inject(kind="status", status=429, endpoint="search", count=2)
    server.inject(kind="status", status=500, endpoint="search", skip=2)
    assert [client.post(SEARCH, json={}).status_code for _ in range(4)] == [429, 429, 500, 200]


def test_faults_over_http(server: SimulatorServer, client: httpx.Client) -> None:
    added = client.post("/_simulator/faults", json={"faults": [
        {"kind": "status", "status": 503, "endpoint": "search", "count": 2},
        {"kind": "delay", "delay_seconds": 0.01, "endpoint": "other"},
    ]})
    assert added.status_code == 200 and len(added.json()["added"]) == 2
    listed = client.get("/_simulator/faults").json()["faults"]
    assert [f["kind"] for f in listed] == ["status", "delay"] and listed[0]["remaining"] == 2
    single = client.post("/_simulator/faults", json={"kind": "malformed"})
    assert single.status_code == 200
    assert client.post(SEARCH, json={}).status_code == 503
    client.delete("/_simulator/faults").raise_for_status()
    assert client.get("/_simulator/faults").json()["faults"] == []
    assert client.post(SEARCH, json={}).status_code == 200


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status"},
        {"kind": "explode"},
        {"kind": "partial_batch"},
        {"kind": "reassign", "reassign_from": "AP-1"},
        {"kind": "status", "status": 503, "surprise": True},
    ],
)
def test_invalid_faults_are_rejected(client: httpx.Client, fault: dict) -> None:
    response = client.post("/_simulator/faults", json=fault)
    assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"


def test_stats_reset_data_and_dumps_over_http(server: SimulatorServer, client: httpx.Client) -> None:
    loaded = client.post("/_simulator/data", json={"generate": {"seed": 5, "n_active": 4, "n_inactive": 1, "n_pending": 1, "contacts_attributed": 30, "contacts_unattributed": 5, "deals": 10, "today": "2026-02-12"}})
    assert loaded.status_code == 200
    body = loaded.json()
    assert body["counts"]["contacts"] == 35 and body["counts"]["deals"] == 10
    assert len(body["registry"]) == 6 and body["summary"]["partners"]["active"] == 4
    client.post(SEARCH, json={}).raise_for_status()
    client.post("/crm/v3/objects/deals/search", json={}).raise_for_status()
    client.get(f"/crm/v3/objects/{PARTNER_TYPE}").raise_for_status()
    stats = client.get("/_simulator/stats").json()
    assert stats["requests"] == {"search": {"contacts": 1, "deals": 1}, "other": {PARTNER_TYPE: 1}}
    assert stats["total_requests"] == 3 and stats["rate_limited"] == 0
    dump = client.get("/_simulator/records/contacts").json()
    assert dump["total"] == 35 and all("hs_object_id" in r["properties"] for r in dump["results"])
    one = client.get(f"/_simulator/records/contacts/{dump['results'][0]['id']}").json()
    assert one["id"] == dump["results"][0]["id"]

    objects = client.post("/_simulator/data", json={"objects": {"deals": [{"id": "5", "properties": {"dealstage": "closedwon"}}]}})
    assert objects.json()["counts"]["deals"] == 1
    reset = client.post("/_simulator/reset", json={})
    assert reset.status_code == 200
    assert client.get("/_simulator/stats").json()["total_requests"] == 0
    assert client.get("/_simulator/records/contacts").json()["total"] == 0


def test_reset_restores_the_starting_dataset_and_config() -> None:
    from affiliate_sync.simulator import generate

    dataset = generate(seed=2, n_active=3, n_inactive=0, n_pending=0, contacts_attributed=10, contacts_unattributed=0, deals=2)
    with SimulatorServer(token="t", dataset=dataset, rate_limits=False) as sim, http_client(sim.url, token="t") as http:
        http.patch(f"/crm/v3/properties/{PARTNER_TYPE}/level", json={"options": []}).raise_for_status()
        sim.store.load({"contacts": []})
        sim.set_missing_scopes("crm.objects.contacts.read")
        sim.inject(kind="status", status=500)
        sim.reset()
        assert sim.store.count("contacts") == 10 and sim.faults.active() == []
        assert sim.store.property(PARTNER_TYPE, "level").option_values == ["starter", "partner", "pro"]
        assert http.post(SEARCH, json={}).status_code == 200


def test_control_endpoints_need_no_token_and_unknown_ones_are_404(server: SimulatorServer) -> None:
    with http_client(server.url, token=None) as anonymous:
        assert anonymous.get("/_simulator/health").json() == {"ok": True}
        assert anonymous.get("/_simulator/nope").status_code == 404
        assert anonymous.post("/_simulator/data", json={"nothing": 1}).status_code == 400
