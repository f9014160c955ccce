"""Batch read/update, single-object GET/PATCH, list, and the properties API over real HTTP."""

from __future__ import annotations

import httpx

from affiliate_sync.simulator import SimulatorServer
from simtest_helpers import PARTNER_TYPE, contacts

OBJECTS = f"/crm/v3/objects/{PARTNER_TYPE}"


def _partners(server: SimulatorServer) -> None:
    server.store.load({PARTNER_TYPE: [
        {"id": "901", "properties": {"partner_id": "AP-20240101-AAAAAA", "level": "starter", "mrr_share_percent": "20"}},
        {"id": "902", "properties": {"partner_id": "AP-20240101-BBBBBB", "level": "pro", "mrr_share_percent": "30"}},
    ]})


def test_batch_read_all_found_is_200_complete(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts("AP-1", "AP-2")})
    response = client.post("/crm/v3/objects/contacts/batch/read", json={"inputs": [{"id": "1"}, {"id": "2"}], "properties": ["affiliate_partner_id"]})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "COMPLETE" and "errors" not in body
    assert sorted(r["properties"]["affiliate_partner_id"] for r in body["results"]) == ["AP-1", "AP-2"]


def test_batch_read_with_missing_ids_is_207_with_one_not_found_error(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts("AP-1")})
    response = client.post("/crm/v3/objects/contacts/batch/read", json={"inputs": [{"id": "1"}, {"id": "77"}, {"id": "78"}]})
    assert response.status_code == 207
    body = response.json()
    assert [r["id"] for r in body["results"]] == ["1"]
    assert body["numErrors"] == 2
    error = body["errors"][0]
    assert error["status"] == "error" and error["category"] == "OBJECT_NOT_FOUND"
    assert error["context"]["ids"] == ["77", "78"] and error["message"]


def test_batch_read_by_id_property(server: SimulatorServer, client: httpx.Client) -> None:
    _partners(server)
    response = client.post(f"{OBJECTS}/batch/read", json={"idProperty": "partner_id", "inputs": [{"id": "AP-20240101-BBBBBB"}], "properties": ["level"]})
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == "902"
    # Exact match: idProperty lookups do not fold case.
    lower = client.post(f"{OBJECTS}/batch/read", json={"idProperty": "partner_id", "inputs": [{"id": "ap-20240101-bbbbbb"}]})
    assert lower.status_code == 207


def test_batch_over_100_inputs_is_400(client: httpx.Client) -> None:
    inputs = [{"id": str(i)} for i in range(101)]
    assert client.post("/crm/v3/objects/contacts/batch/read", json={"inputs": inputs}).status_code == 400
    updates = [{"id": str(i), "properties": {"company": "x"}} for i in range(101)]
    response = client.post("/crm/v3/objects/contacts/batch/update", json={"inputs": updates})
    assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"


def test_level_beginner_is_rejected_until_the_option_is_added(server: SimulatorServer, client: httpx.Client) -> None:
    _partners(server)
    update = {"idProperty": "partner_id", "inputs": [
        {"id": "AP-20240101-AAAAAA", "properties": {"level": "beginner", "mrr_share_percent": 0}},
        {"id": "AP-20240101-BBBBBB", "properties": {"level": "partner", "mrr_share_percent": 25}},
        {"id": "AP-20240101-ZZZZZZ", "properties": {"level": "pro"}},
    ]}
    first = client.post(f"{OBJECTS}/batch/update", json=update)
    assert first.status_code == 207
    body = first.json()
    assert [r["id"] for r in body["results"]] == ["902"]
    assert body["results"][0]["properties"]["level"] == "partner"
    assert body["results"][0]["properties"]["mrr_share_percent"] == "25"
    categories = {e["category"]: e for e in body["errors"]}
    assert categories["OBJECT_NOT_FOUND"]["context"]["ids"] == ["AP-20240101-ZZZZZZ"]
    invalid = categories["VALIDATION_ERROR"]
    assert invalid["code"] == "INVALID_OPTION" and invalid["context"]["ids"] == ["AP-20240101-AAAAAA"]
    assert server.store.get(PARTNER_TYPE, "901").properties["level"] == "starter"  # not applied

    prop = client.get(f"/crm/v3/properties/{PARTNER_TYPE}/level").json()
    assert [o["value"] for o in prop["options"]] == ["starter", "partner", "pro"]
    options = [{"label": "Beginner", "value": "beginner", "displayOrder": 0}] + prop["options"]
    patched = client.patch(f"/crm/v3/properties/{PARTNER_TYPE}/level", json={"options": options})
    assert patched.status_code == 200
    assert [o["value"] for o in patched.json()["options"]] == ["beginner", "starter", "partner", "pro"]

    second = client.post(f"{OBJECTS}/batch/update", json={"idProperty": "partner_id", "inputs": update["inputs"][:1]})
    assert second.status_code == 200 and second.json()["status"] == "COMPLETE"
    assert server.store.get(PARTNER_TYPE, "901").properties["level"] == "beginner"


def test_property_patch_replaces_options_as_a_whole(client: httpx.Client) -> None:
    url = f"/crm/v3/properties/{PARTNER_TYPE}/level"
    response = client.patch(url, json={"options": [{"label": "Beginner", "value": "beginner"}]})
    assert response.status_code == 200
    assert [o["value"] for o in client.get(url).json()["options"]] == ["beginner"]
    assert client.get(f"/crm/v3/properties/{PARTNER_TYPE}/nope").status_code == 404


def test_patch_and_get_by_id_property(server: SimulatorServer, client: httpx.Client) -> None:
    _partners(server)
    url = f"{OBJECTS}/AP-20240101-AAAAAA?idProperty=partner_id"
    patched = client.patch(url, json={"properties": {"level": "pro", "mrr_share_percent": "30"}})
    assert patched.status_code == 200 and patched.json()["id"] == "901"
    got = client.get(url + "&properties=level,mrr_share_percent").json()
    assert got["properties"]["level"] == "pro" and got["properties"]["mrr_share_percent"] == "30"
    assert client.get(f"{OBJECTS}/901", params={"properties": "level"}).json()["properties"]["level"] == "pro"
    assert client.get(f"{OBJECTS}/999").status_code == 404
    assert client.patch(f"{OBJECTS}/901", json={"properties": {"level": "gold"}}).status_code == 400
    # Only unique properties can stand in for the id.
    assert client.get(f"{OBJECTS}/starter?idProperty=level").status_code == 400


def test_numbers_are_stored_as_strings(server: SimulatorServer, client: httpx.Client) -> None:
    _partners(server)
    client.patch(f"{OBJECTS}/901", json={"properties": {"mrr_share_percent": 25}}).raise_for_status()
    assert server.store.get(PARTNER_TYPE, "901").properties["mrr_share_percent"] == "25"
    bad = client.patch(f"{OBJECTS}/901", json={"properties": {"mrr_share_percent": "lots"}})
    assert bad.status_code == 400


def test_list_pages_by_record_id_with_limit_at_most_100(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts(*["AP-1"] * 150)})
    first = client.get("/crm/v3/objects/contacts", params={"limit": 100}).json()
    assert len(first["results"]) == 100 and first["paging"]["next"]["after"] == "101"
    second = client.get("/crm/v3/objects/contacts", params={"limit": 100, "after": "101"}).json()
    assert len(second["results"]) == 50 and "paging" not in second
    assert client.get("/crm/v3/objects/contacts", params={"limit": 101}).status_code == 400


def test_object_type_aliases(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts("AP-1")})
    assert client.post("/crm/v3/objects/0-1/search", json={}).json()["total"] == 1
    assert client.post("/crm/v3/objects/contact/search", json={}).json()["total"] == 1
    assert client.post("/crm/v3/objects/anything_else/search", json={}).json()["total"] == 0


def test_unknown_route_is_404(client: httpx.Client) -> None:
    assert client.get("/crm/v4/whatever").status_code == 404
