"""CRM search semantics over real HTTP: paging, limits, operators, sorting, returned properties."""

from __future__ import annotations

import httpx
import pytest

from affiliate_sync.simulator import SimulatorServer
from simtest_helpers import contacts, ids_of, search_body

SEARCH = "/crm/v3/objects/contacts/search"


def test_pages_of_200_with_after_tokens_and_no_paging_at_the_end(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts(*["AP-1"] * 450)})
    seen: list[str] = []
    tokens: list[str | None] = []
    after: str | None = None
    for _ in range(10):  # bounded: 3 pages expected
        body = search_body(limit=200, **({"after": after} if after else {}))
        page = client.post(SEARCH, json=body).json()
        assert page["total"] == 450
        seen += [result["id"] for result in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
        tokens.append(after)
        if after is None:
            break
    assert tokens == ["200", "400", None]
    assert seen == [str(i) for i in range(1, 451)]


def test_default_limit_is_10_and_over_200_is_a_validation_error(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts(*["AP-1"] * 30)})
    assert len(client.post(SEARCH, json={}).json()["results"]) == 10
    response = client.post(SEARCH, json={"limit": 201})
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert response.json()["status"] == "error" and response.json()["correlationId"]


def test_paging_past_10000_results_is_a_400(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": [{"properties": {"affiliate_partner_id": "AP-1"}} for _ in range(10_050)]})
    last = client.post(SEARCH, json={"limit": 200, "after": "9800"})
    assert last.status_code == 200 and len(last.json()["results"]) == 200
    # HubSpot still hands out the token; following it is the error.
    assert last.json()["paging"]["next"]["after"] == "10000"
    beyond = client.post(SEARCH, json={"limit": 200, "after": "10000"})
    assert beyond.status_code == 400 and beyond.json()["category"] == "VALIDATION_ERROR"
    straddling = client.post(SEARCH, json={"limit": 200, "after": "9900"})
    assert straddling.status_code == 400


@pytest.mark.parametrize(
    ("groups", "ok"),
    [
        ([1] * 5, True),
        ([1] * 6, False),  # more than 5 groups
        ([6], True),
        ([7], False),  # more than 6 filters in a group
        ([6, 6, 6], True),  # 18 in all
        ([6, 6, 6, 1], False),  # 19 in all
        ([5, 5, 5, 4], False),
    ],
)
def test_filter_count_limits(client: httpx.Client, groups: list[int], ok: bool) -> None:
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"} for _ in range(size)]}
            for size in groups
        ]
    }
    response = client.post(SEARCH, json=body)
    assert response.status_code == (200 if ok else 400)
    if not ok:
        assert response.json()["category"] == "VALIDATION_ERROR"


def test_in_compares_lowercased_values_with_the_values_as_given(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts("AP-20240101-ABC123", "ap-20240101-abc123", "Ap-20240101-AbC123", "AP-OTHER")})

    def matching(*values: str) -> list[str]:
        response = client.post(SEARCH, json=search_body({"propertyName": "affiliate_partner_id", "operator": "IN", "values": list(values)}))
        assert response.status_code == 200
        return ids_of(response)

    assert matching("ap-20240101-abc123") == ["1", "2", "3"]
    assert matching("AP-20240101-ABC123") == []  # upper-case values silently match nothing
    assert matching("ap-20240101-abc123", "ap-other") == ["1", "2", "3", "4"]


def test_eq_and_neq_on_strings_ignore_case_and_neq_includes_missing(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts("AP-X", "ap-x", "AP-Y", None)})
    eq = client.post(SEARCH, json=search_body({"propertyName": "affiliate_partner_id", "operator": "EQ", "value": "AP-X"}))
    assert ids_of(eq) == ["1", "2"]
    neq = client.post(SEARCH, json=search_body({"propertyName": "affiliate_partner_id", "operator": "NEQ", "value": "ap-x"}))
    assert ids_of(neq) == ["3", "4"]


def test_has_property_ignores_missing_and_empty_values(server: SimulatorServer, client: httpx.Client) -> None:
    records = contacts("AP-1", None, "AP-2")
    records.append({"id": "4", "properties": {"affiliate_partner_id": ""}})
    server.store.load({"contacts": records})
    has = client.post(SEARCH, json=search_body({"propertyName": "affiliate_partner_id", "operator": "HAS_PROPERTY"}))
    assert ids_of(has) == ["1", "3"]
    lacks = client.post(SEARCH, json=search_body({"propertyName": "affiliate_partner_id", "operator": "NOT_HAS_PROPERTY"}))
    assert ids_of(lacks) == ["2", "4"]


def test_gt_on_hs_object_id_is_numeric_and_sorts_numerically(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": [{"id": str(i), "properties": {"email": f"{i}@x.example"}} for i in (9, 10, 100, 2000)]})
    gt = client.post(SEARCH, json=search_body({"propertyName": "hs_object_id", "operator": "GT", "value": "9"}, limit=200))
    assert ids_of(gt) == ["10", "100", "2000"]  # a string comparison would drop 10 and 100
    desc = client.post(SEARCH, json={"sorts": [{"propertyName": "hs_object_id", "direction": "DESCENDING"}]})
    assert ids_of(desc) == ["2000", "100", "10", "9"]
    between = client.post(SEARCH, json=search_body({"propertyName": "hs_object_id", "operator": "BETWEEN", "value": "10", "highValue": "100"}))
    assert ids_of(between) == ["10", "100"]


def test_numbers_and_dates_compare_as_such(server: SimulatorServer, client: httpx.Client) -> None:
    deals = [
        {"id": "1", "properties": {"affiliate_mrr": "89.00", "closedate": "2026-01-10T10:00:00Z"}},
        {"id": "2", "properties": {"affiliate_mrr": "149.00", "closedate": "2026-02-10T10:00:00.000Z"}},
        {"id": "3", "properties": {"affiliate_mrr": "n/a", "closedate": "2026-03-10T10:00:00Z"}},
        {"id": "4", "properties": {"affiliate_mrr": "1000", "closedate": ""}},
    ]
    server.store.load({"deals": deals})
    url = "/crm/v3/objects/deals/search"
    mrr = client.post(url, json=search_body({"propertyName": "affiliate_mrr", "operator": "GT", "value": "100"}))
    assert ids_of(mrr) == ["2", "4"]
    since = client.post(url, json=search_body({"propertyName": "closedate", "operator": "GTE", "value": "2026-02-01"}))
    assert ids_of(since) == ["2", "3"]
    epoch = client.post(url, json=search_body({"propertyName": "closedate", "operator": "LT", "value": "1768953600000"}))  # 2026-01-21
    assert ids_of(epoch) == ["1"]
    by_mrr = client.post(url, json={"sorts": [{"propertyName": "affiliate_mrr", "direction": "DESCENDING"}]})
    assert ids_of(by_mrr) == ["4", "2", "1", "3"]  # unparsable last


def test_groups_are_ored_and_filters_anded(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts("AP-1", "AP-2", "AP-3", "AP-1", start=1)})
    body = {
        "filterGroups": [
            {"filters": [
                {"propertyName": "affiliate_partner_id", "operator": "EQ", "value": "AP-1"},
                {"propertyName": "hs_object_id", "operator": "GT", "value": "1"},
            ]},
            {"filters": [{"propertyName": "affiliate_partner_id", "operator": "EQ", "value": "AP-3"}]},
        ]
    }
    assert ids_of(client.post(SEARCH, json=body)) == ["3", "4"]


def test_contains_token_matches_words_and_wildcards(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": [
        {"id": "1", "properties": {"email": "anna@nordwerk.example", "company": "Nordwerk GmbH"}},
        {"id": "2", "properties": {"email": "ben@other.example", "company": "Other AG"}},
    ]})
    token = client.post(SEARCH, json=search_body({"propertyName": "company", "operator": "CONTAINS_TOKEN", "value": "gmbh"}))
    assert ids_of(token) == ["1"]
    wildcard = client.post(SEARCH, json=search_body({"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@other.example"}))
    assert ids_of(wildcard) == ["2"]


def test_only_requested_and_system_properties_come_back_as_strings(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.insert("contacts", {"email": "a@x.example", "firstname": "A", "affiliate_partner_id": "AP-1"}, record_id=7)
    result = client.post(SEARCH, json={"properties": ["affiliate_partner_id", "company"]}).json()["results"][0]
    assert result["id"] == "7" and result["archived"] is False
    assert set(result["properties"]) == {"affiliate_partner_id", "company", "hs_object_id", "createdate", "lastmodifieddate"}
    assert result["properties"]["hs_object_id"] == "7"
    assert result["properties"]["company"] is None
    assert result["createdAt"].endswith("Z") and result["updatedAt"].endswith("Z")


@pytest.mark.parametrize(
    "body",
    [
        {"sorts": [{"propertyName": "email"}, {"propertyName": "firstname"}]},
        {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "IN"}]}]},
        {"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": "abc"}]}]},
        {"after": "not-a-token"},
    ],
)
def test_malformed_search_requests_are_400(client: httpx.Client, body: dict) -> None:
    response = client.post(SEARCH, json=body)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


def test_invalid_json_is_a_400(client: httpx.Client) -> None:
    response = client.post(SEARCH, content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["category"] == "VALIDATION_ERROR"


def test_writes_are_visible_to_the_next_search(server: SimulatorServer, client: httpx.Client) -> None:
    server.store.load({"contacts": contacts("AP-1", "AP-1")})
    body = search_body({"propertyName": "affiliate_partner_id", "operator": "EQ", "value": "AP-1"})
    assert client.post(SEARCH, json=body).json()["total"] == 2  # primes the index and the cache
    client.patch("/crm/v3/objects/contacts/1", json={"properties": {"affiliate_partner_id": "AP-2"}}).raise_for_status()
    assert ids_of(client.post(SEARCH, json=body)) == ["2"]
