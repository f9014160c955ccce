"""The data generator: determinism, the reference load's counts, and the untidiness it promises."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from affiliate_sync.simulator import (
    CUSTOM_WON_STAGE_ID,
    Dataset,
    SimulatorServer,
    Store,
    generate,
    load_into,
    reference_load,
    write_registry,
)
from simtest_helpers import PARTNER_TYPE, TOKEN, http_client

TODAY = date(2026, 2, 12)
PARTNER_ID = re.compile(r"^AP-\d{8}-[A-Z0-9]{6}$")


@pytest.fixture(scope="module")
def big() -> Dataset:
    return reference_load(seed=1, big=True, today=TODAY)


def _small(seed: int = 7) -> Dataset:
    return generate(seed=seed, n_active=40, n_inactive=5, n_pending=5, contacts_attributed=400, contacts_unattributed=100, deals=200, today=TODAY)


def test_same_seed_same_dataset_other_seed_other_dataset() -> None:
    assert _small(7).to_dict() == _small(7).to_dict()
    assert _small(7).to_dict() != _small(8).to_dict()


def test_reference_load_counts(big: Dataset) -> None:
    plain = reference_load(seed=1, today=TODAY)
    for dataset in (plain, big):
        summary = dataset.summary()
        assert summary["partners"] == {"active": 1_000, "inactive": 100}
        assert summary["contacts_unattributed"] == 10_000
        assert summary["deals"] == 5_000
    assert plain.summary()["contacts_attributed"] == 20_000 and plain.big_partner_id is None
    assert big.summary()["contacts_attributed"] == 32_000
    owned = sum(
        1 for c in big.contacts if (c["properties"].get("affiliate_partner_id") or "").upper() == big.big_partner_id
    )
    assert owned > 10_000
    assert big.big_partner_id in big.active_partner_ids()


def test_skew_a_few_partners_own_most_contacts(big: Dataset) -> None:
    owners = Counter((c["properties"].get("affiliate_partner_id") or "").upper() for c in big.contacts if c["properties"].get("affiliate_partner_id"))
    owners.pop(big.big_partner_id)
    top = sum(n for _, n in owners.most_common(100))
    assert top > 0.5 * sum(owners.values())
    assert sum(1 for pid in big.active_partner_ids() if owners[pid] == 0) >= 10  # a long tail with nothing


def test_registry_shape_and_anomalies(big: Dataset) -> None:
    registry = big.registry
    ids = [p["partner_id"] for p in registry]
    assert len(set(ids)) == len(ids) and all(PARTNER_ID.match(pid) for pid in ids)
    assert any(not _real_date(pid[3:11]) for pid in ids)  # some date parts are not dates
    assert any(any(ord(ch) > 127 for ch in p["name"]) for p in registry)
    for partner in registry:
        assert {"password_hash", "oauth", "terms_accepted_at", "is_admin", "created_at"} <= set(partner)
    records = {r["id"]: r["properties"]["partner_id"] for r in big.partner_records}
    with_record = {pid for pid in records.values()}
    linked = [p for p in registry if "hubspot_affiliate_record_id" in p]
    legacy = [p for p in registry if "hubspot_object_id" in p]
    wrong = [p for p in linked if records.get(p["hubspot_affiliate_record_id"]) != p["partner_id"]]
    unlinked = [p for p in registry if p["partner_id"] in with_record and "hubspot_affiliate_record_id" not in p and "hubspot_object_id" not in p]
    assert len(linked) > 0.85 * len(registry)
    assert legacy and unlinked and len(wrong) == 2
    assert all(records.get(p["hubspot_affiliate_record_id"]) is not None for p in wrong)  # another partner's record
    assert any(p["partner_id"] not in with_record for p in registry)  # partners without a record
    assert with_record - set(ids)  # records that exist only in HubSpot
    assert {r["properties"]["level"] for r in big.partner_records} <= {"starter", "partner", "pro"}


def test_contacts_and_deals_are_untidy_like_real_data(big: Dataset) -> None:
    registry = {p["partner_id"] for p in big.registry}
    partner_ids = [c["properties"].get("affiliate_partner_id") for c in big.contacts]
    assert any(pid and pid != pid.upper() for pid in partner_ids)  # typed in another case
    assert any(pid == "" for pid in partner_ids) and any(pid is None for pid in partner_ids)
    assert any(pid and pid.upper() not in registry for pid in partner_ids)  # unknown partners
    assert all(pid is None or pid == pid.strip() for pid in partner_ids)

    deals = [d["properties"] for d in big.deals]
    stages = Counter(d["dealstage"] for d in deals)
    assert {"closedwon", "closedlost", "appointmentscheduled", CUSTOM_WON_STAGE_ID} <= set(stages)
    mrr = Counter(d["affiliate_mrr"] for d in deals)
    assert mrr[""] > 0 and mrr["n/a"] > 0 and "149.00" in mrr
    statuses = Counter(d.get("affiliate_subscription_status") for d in deals)
    assert statuses[None] > 0 and any(s and s != s.lower() for s in statuses)
    closed = [datetime.fromisoformat(d["closedate"].replace("Z", "+00:00")).date() for d in deals]
    assert min(closed) >= TODAY - timedelta(days=200) and max(closed) <= TODAY
    assert any(d["closedate"].endswith(":00Z") or re.search(r":\d\dZ$", d["closedate"]) for d in deals)


def test_record_ids_are_numeric_unique_and_increasing(big: Dataset) -> None:
    for records in (big.partner_records, big.contacts, big.deals):
        ids = [int(r["id"]) for r in records]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)


@pytest.mark.parametrize("shape", ["list", "dict", "wrapped"])
def test_write_registry_shapes(tmp_path: Path, shape: str) -> None:
    dataset = _small()
    path = write_registry(tmp_path / "affiliate_partners.json", dataset, shape=shape)  # type: ignore[arg-type]
    document = json.loads(path.read_text(encoding="utf-8"))
    partners = {"list": lambda d: d, "dict": lambda d: list(d.values()), "wrapped": lambda d: d["partners"]}[shape](document)
    assert partners == dataset.registry
    if shape == "dict":
        assert all(key == value["partner_id"] for key, value in document.items())
    assert not list(tmp_path.glob(".*.tmp"))


def test_reference_load_searches_fast(big: Dataset) -> None:
    with SimulatorServer(token=TOKEN, rate_limits=False, dataset=big) as sim, http_client(sim.url) as http:
        body = {
            "filterGroups": [{"filters": [{"propertyName": "affiliate_partner_id", "operator": "IN", "values": [big.big_partner_id.lower()]}]}],
            "properties": ["affiliate_partner_id", "email"],
            "limit": 200,
        }
        http.post("/crm/v3/objects/contacts/search", json=body).raise_for_status()  # builds the index
        began = time.perf_counter()
        for page in range(10):
            response = http.post("/crm/v3/objects/contacts/search", json={**body, "after": str(page * 200)})
            assert response.status_code == 200 and len(response.json()["results"]) == 200
        assert (time.perf_counter() - began) / 10 < 0.05
        assert response.json()["total"] > 10_000
        whole = http.post("/crm/v3/objects/contacts/search", json={"filterGroups": [{"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": "0"}]}]})
        assert whole.json()["total"] == 42_000


def test_load_into_a_store_and_the_partner_type_is_configurable() -> None:
    dataset = generate(seed=3, n_active=5, n_inactive=0, n_pending=0, contacts_attributed=20, contacts_unattributed=0, deals=5, partner_object_type="2-999")
    store = Store(partner_object_type="2-999")
    counts = load_into(store, dataset)
    assert counts == {"2-999": len(dataset.partner_records), "contacts": 20, "deals": 5}
    assert store.property("2-999", "level") is not None and store.count(PARTNER_TYPE) == 0


def test_dataset_json_round_trip_loads_over_http(server: SimulatorServer, client: httpx.Client) -> None:
    dataset = _small()
    response = client.post("/_simulator/data", json=Dataset.from_dict(json.loads(json.dumps(dataset.to_dict()))).to_dict())
    assert response.status_code == 200
    assert response.json()["counts"]["contacts"] == len(dataset.contacts)


def _real_date(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return False
    return True
