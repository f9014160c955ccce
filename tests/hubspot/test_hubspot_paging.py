"""search_all / scan_attributed / search_partner / count against the simulator over HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from affiliate_sync.hubspot import HubSpotRequestError, HubSpotUnavailableError
from affiliate_sync.hubspot import client as client_module
from affiliate_sync.hubspot import search as search_module
from affiliate_sync.settings import CONTACT_PROPERTIES
from affiliate_sync.simulator.server import SimulatorServer

PROPS = ["email", "affiliate_partner_id"]


def ids_of(records: list[dict]) -> list[str]:
    return [record["id"] for record in records]


@pytest.mark.parametrize(("count", "pages"), [(0, 1), (199, 1), (200, 1), (201, 2), (400, 2), (401, 3)])
def test_page_boundaries(sim: SimulatorServer, make_client: Callable, load_contacts: Callable, count: int, pages: int) -> None:
    expected = load_contacts(count)
    client = make_client()

    records = client.scan_attributed("contacts", PROPS)

    assert ids_of(records) == expected
    assert client.stats.calls["search:contacts"] == pages
    assert all(record["properties"]["affiliate_partner_id"] for record in records)


def test_more_than_10000_results_are_sliced_by_id(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    expected = load_contacts(10_450, partners=("AP-20240101-ABC123", "ap-20240202-xyz789"))
    client = make_client()

    records = client.scan_attributed("contacts", CONTACT_PROPERTIES)

    assert len(records) == 10_450
    assert ids_of(records) == expected  # none missing, no duplicates, id order
    # One keyset page (`hs_object_id GT <last id>`) per 200 records: the cap is never met.
    assert client.stats.calls["search:contacts"] == 53
    assert sim.stats.snapshot()["statuses"] == {"200": 53}  # never paged into the 400


def test_records_leaving_the_result_set_mid_scan_do_not_hide_others(
    sim: SimulatorServer, make_client: Callable, load_contacts: Callable
) -> None:
    expected = load_contacts(600)
    client = make_client()
    scan = client.search_all(
        "contacts",
        filter_groups=[{"filters": [{"propertyName": "affiliate_partner_id", "operator": "HAS_PROPERTY"}]}],
        properties=PROPS,
    )
    seen = [next(scan)["id"] for _ in range(200)]  # the whole first page
    for record_id in seen[:50]:  # sales clear the partner id on 50 records already read
        sim.store.update("contacts", sim.store.get("contacts", record_id), {"affiliate_partner_id": None})
    seen += [record["id"] for record in scan]

    # With offset paging the next page would start 50 records late and skip them.
    assert seen == expected


def test_slices_add_the_keyset_filter_to_every_group(
    sim: SimulatorServer, make_client: Callable, load_contacts: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A smaller cap on both sides keeps this fast while exercising the same logic.
    monkeypatch.setattr(sim.config.search, "max_results", 1_000)
    monkeypatch.setattr(search_module, "MAX_RESULTS_PER_QUERY", 1_000)
    load_contacts(2_500, partners=("AP-1", "AP-2", "AP-3"))
    groups = [
        {"filters": [{"propertyName": "affiliate_partner_id", "operator": "IN", "values": ["ap-1"]}]},
        {"filters": [{"propertyName": "affiliate_partner_id", "operator": "EQ", "value": "AP-3"}]},
    ]
    client = make_client()

    records = list(client.search_all("contacts", filter_groups=groups, properties=PROPS))

    partners = {record["properties"]["affiliate_partner_id"] for record in records}
    assert partners == {"AP-1", "AP-3"}
    assert len(records) == len({record["id"] for record in records}) == 1_667
    assert "400" not in sim.stats.snapshot()["statuses"]


def test_cap_without_room_for_keyset_filter_is_a_clear_error(
    sim: SimulatorServer, make_client: Callable, load_contacts: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim.config.search, "max_results", 400)
    monkeypatch.setattr(search_module, "MAX_RESULTS_PER_QUERY", 400)
    load_contacts(900)
    client = make_client()

    with pytest.raises(HubSpotRequestError, match="cannot be sliced"):
        list(client.search_all("contacts", properties=PROPS, sort_property="email"))
    assert client.stats.calls["search:contacts"] == 2  # stopped before the page that would 400


def test_filter_limits_are_checked_before_any_call(sim: SimulatorServer, make_client: Callable) -> None:
    client = make_client()
    one = {"propertyName": "email", "operator": "HAS_PROPERTY"}
    with pytest.raises(ValueError, match="filter groups"):
        list(client.search_all("contacts", filter_groups=[{"filters": [one]}] * 6, properties=PROPS))
    with pytest.raises(ValueError, match="per group"):
        list(client.search_all("contacts", filter_groups=[{"filters": [one] * 7}], properties=PROPS))
    with pytest.raises(ValueError, match="in all"):
        list(client.search_all("contacts", filter_groups=[{"filters": [one] * 4}] * 5, properties=PROPS))
    assert client.stats.total_calls == 0


def test_empty_page_with_next_token_is_not_the_end(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    expected = load_contacts(450)
    sim.inject(kind="empty_page", endpoint="search", skip=1, count=2)
    client = make_client()

    records = client.scan_attributed("contacts", PROPS)

    assert ids_of(records) == expected
    assert client.stats.calls["search:contacts"] == 3 + 2


def test_endless_empty_pages_stop_with_an_error(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    load_contacts(450)
    sim.inject(kind="empty_page", endpoint="search", count=1_000)
    client = make_client()

    with pytest.raises(HubSpotUnavailableError, match="no new record"):
        client.scan_attributed("contacts", PROPS)
    assert client.stats.calls["search:contacts"] == client_module.MAX_STALLED_PAGES + 1


def test_records_reassigned_between_pages_appear_once(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    expected = load_contacts(700, partners=("AP-A", "AP-B"))
    # Before the second and third pages, move records (lowest ids first) between partners.
    sim.inject(kind="reassign", endpoint="search", skip=1, count=2, reassign_from="AP-A", reassign_to="AP-C", reassign_limit=50)
    client = make_client()

    records = client.scan_attributed("contacts", PROPS)

    assert ids_of(records) == expected
    assert sim.stats.snapshot()["faults_triggered"] == {"reassign": 2}


def test_search_partner_matches_any_case(sim: SimulatorServer, make_client: Callable) -> None:
    sim.store.load(
        {
            "contacts": [
                {"id": "1", "properties": {"affiliate_partner_id": "AP-20240101-ABC123"}},
                {"id": "2", "properties": {"affiliate_partner_id": "ap-20240101-abc123"}},
                {"id": "3", "properties": {"affiliate_partner_id": "Ap-20240101-Abc123"}},
                {"id": "4", "properties": {"affiliate_partner_id": "AP-20240101-ABC124"}},
                {"id": "5", "properties": {"email": "unattributed@example.com"}},
            ]
        }
    )
    client = make_client()

    records = client.search_partner("contacts", "AP-20240101-ABC123", ["email"])

    assert sorted(ids_of(records)) == ["1", "2", "3"]
    assert all("affiliate_partner_id" in record["properties"] for record in records)


def test_count_uses_total_with_one_call(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    load_contacts(321)
    client = make_client()
    groups = [{"filters": [{"propertyName": "affiliate_partner_id", "operator": "HAS_PROPERTY"}]}]

    assert client.count("contacts", groups) == 321
    assert client.count("deals") == 0
    assert client.stats.calls == {"search:contacts": 1, "search:deals": 1}


def test_verify_token(sim: SimulatorServer, make_client: Callable) -> None:
    client = make_client()
    assert client.verify_token() is True
    assert client.stats.total_calls == 1
