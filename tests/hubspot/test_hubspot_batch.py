"""Batch read/update (chunking at 100, 200 vs 207) and property option updates."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from affiliate_sync.hubspot import HubSpotRequestError
from affiliate_sync.simulator.server import SimulatorServer

PARTNER_TYPE = "2-197867933"


def test_batch_read_chunks_at_100(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    ids = load_contacts(250)
    client = make_client()

    result = client.batch_read("contacts", ids + ids[:5], properties=["email"])  # duplicates are sent once

    assert result.ok
    assert sorted(int(r["id"]) for r in result.results) == [int(i) for i in ids]
    assert client.stats.calls["batch_read:contacts"] == 3
    assert result.results[0]["properties"]["email"].endswith("@example.com")


def test_batch_read_missing_ids_is_a_207_not_an_exception(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    load_contacts(3)
    client = make_client()

    result = client.batch_read("contacts", ["1", "2", "999"], properties=["email"])

    assert sorted(r["id"] for r in result.results) == ["1", "2"]
    assert not result.ok
    assert result.failed_ids == ["999"]
    assert result.errors[0].category == "OBJECT_NOT_FOUND"


def test_batch_update_chunks_at_100_and_applies(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    ids = load_contacts(230)
    client = make_client()

    result = client.batch_update("contacts", [{"id": i, "properties": {"company": f"Co {i}"}} for i in ids])

    assert result.ok and len(result.results) == 230
    assert client.stats.calls["batch_update:contacts"] == 3
    assert sim.store.get("contacts", "229").properties["company"] == "Co 229"


def test_batch_update_207_collects_per_input_errors(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    ids = load_contacts(150)
    sim.inject(kind="partial_batch", endpoint="batch_update", fail_ids=["7", "120"], error_category="VALIDATION_ERROR")
    client = make_client()

    result = client.batch_update("contacts", [{"id": i, "properties": {"company": "X"}} for i in ids + ["5000"]])

    # The fault hits the first chunk only (ids 1-100); 5000 does not exist (second chunk).
    assert sorted(result.failed_ids, key=int) == ["7", "5000"]
    assert len(result.results) == 149
    assert {e.category for e in result.errors} >= {"VALIDATION_ERROR", "OBJECT_NOT_FOUND"}
    assert all(e.message for e in result.errors)
    assert sim.store.get("contacts", "8").properties["company"] == "X"
    assert client.stats.retries == {}


def test_batch_update_merges_duplicate_ids(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    load_contacts(2)
    client = make_client()

    result = client.batch_update(
        "contacts",
        [{"id": "1", "properties": {"company": "A", "firstname": "F"}}, {"id": "1", "properties": {"company": "B"}}],
    )

    assert result.ok
    record = sim.store.get("contacts", "1")
    assert record.properties["company"] == "B" and record.properties["firstname"] == "F"


def test_batch_update_by_id_property(sim: SimulatorServer, make_client: Callable) -> None:
    sim.store.load(
        {
            PARTNER_TYPE: [
                {"id": "901", "properties": {"partner_id": "AP-20240101-ABC123", "level": "starter"}},
                {"id": "902", "properties": {"partner_id": "AP-20240202-XYZ789", "level": "starter"}},
            ]
        }
    )
    client = make_client()

    result = client.batch_update(
        PARTNER_TYPE,
        [{"id": "AP-20240101-ABC123", "properties": {"level": "partner", "mrr_share_percent": "25"}}],
        id_property="partner_id",
    )
    read = client.batch_read(PARTNER_TYPE, ["AP-20240202-XYZ789"], properties=["level"], id_property="partner_id")

    assert result.ok
    assert sim.store.get(PARTNER_TYPE, "901").properties["level"] == "partner"
    assert [r["id"] for r in read.results] == ["902"]
    assert client.stats.calls == {f"batch_update:{PARTNER_TYPE}": 1, f"batch_read:{PARTNER_TYPE}": 1}


def test_empty_batches_make_no_call(sim: SimulatorServer, make_client: Callable) -> None:
    client = make_client()
    assert client.batch_update("contacts", []).ok
    assert client.batch_read("contacts", [], properties=["email"]).results == []
    assert client.stats.total_calls == 0


def test_property_options_round_trip(sim: SimulatorServer, make_client: Callable) -> None:
    client = make_client()
    level = client.get_property(PARTNER_TYPE, "level")
    options = [dict(option) for option in level["options"]]
    values = [option["value"] for option in options]
    if "beginner" in values:  # the simulator may already define it; start from a state without
        options = [option for option in options if option["value"] != "beginner"]
        client.update_property_options(PARTNER_TYPE, "level", options)

    options.append({"label": "Beginner", "value": "beginner", "displayOrder": 0, "hidden": False})
    updated = client.update_property_options(PARTNER_TYPE, "level", options)

    assert "beginner" in [option["value"] for option in updated["options"]]
    assert "beginner" in [option["value"] for option in client.get_property(PARTNER_TYPE, "level")["options"]]
    assert client.stats.calls[f"get_property:{PARTNER_TYPE}"] == 2


def test_unknown_property_is_a_request_error(sim: SimulatorServer, make_client: Callable) -> None:
    client = make_client()

    with pytest.raises(HubSpotRequestError) as caught:
        client.get_property("contacts", "no_such_property")

    message = str(caught.value)
    assert "404" in message and "OBJECT_NOT_FOUND" in message and "correlationId" in message
    assert caught.value.correlation_id and caught.value.correlation_id in message
    assert client.stats.total_calls == 1
