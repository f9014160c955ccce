"""The benchmark's programmes and the call-count formulas they are judged by.

Every load is made by the project's generator (`affiliate_sync.simulator.generate`), so the
same arguments give the same data. Proportions are the reference load's, per active partner:
20 attributed contacts, 10 contacts with no partner, 5 deals, and one inactive partner per ten.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from affiliate_sync.attribution import normalise_partner_id
from affiliate_sync.hubspot.client import BATCH_LIMIT
from affiliate_sync.hubspot.search import MAX_PAGE_SIZE
from affiliate_sync.simulator import Dataset, generate, reference_load

SEED = 1


@dataclass(frozen=True)
class Load:
    """One programme to run: a name, how many active partners, and how to generate it."""

    name: str
    partners: int
    big: bool = False

    def dataset(self) -> Dataset:
        if self.partners == 1_000:
            # `reference_load` is `generate` with exactly the proportional arguments below.
            return reference_load(seed=SEED, big=self.big)
        return scaled(self.partners, big=self.big)


def scaled(partners: int, *, big: bool = False) -> Dataset:
    """A programme of `partners` active partners with the reference load's proportions."""
    return generate(
        seed=SEED, n_active=partners, n_inactive=max(1, partners // 10), n_pending=0,
        contacts_attributed=partners * 20, contacts_unattributed=partners * 10, deals=partners * 5,
        skew=1.0, big_partner_contacts=12_000 if big else 0,
    )


def _pages(records: int) -> int:
    """Search pages to read `records` matches: one page even when there are none."""
    return max(1, math.ceil(records / MAX_PAGE_SIZE))


def _attributed(records: list[dict[str, Any]]) -> list[str]:
    """Partner ids (as typed) of records HubSpot's HAS_PROPERTY matches: a non-empty value."""
    return [r["properties"]["affiliate_partner_id"] for r in records if r["properties"].get("affiliate_partner_id")]


def theoretical_minimum(dataset: Dataset) -> dict[str, int]:
    """HubSpot's floor for one sync of `dataset`:

        ceil(C / 200) + ceil(D / 200) + ceil(A / 100)

    C = every contact with an `affiliate_partner_id` (HubSpot cannot filter on "belongs to an
    active partner" without one query per partner, so the floor reads them all), D = every
    deal with one, A = active partners (one batch write per 100 partners).
    """
    contacts = len(_attributed(dataset.contacts))
    deals = len(_attributed(dataset.deals))
    active = len(dataset.active_partner_ids())
    floor = {
        "contacts_attributed_all": contacts,
        "deals_attributed": deals,
        "active_partners": active,
        "search_contacts_pages": math.ceil(contacts / MAX_PAGE_SIZE),
        "search_deals_pages": math.ceil(deals / MAX_PAGE_SIZE),
        "batch_writes": math.ceil(active / BATCH_LIMIT),
    }
    floor["total"] = floor["search_contacts_pages"] + floor["search_deals_pages"] + floor["batch_writes"]
    return floor


def expected_sync_calls(dataset: Dataset) -> dict[str, int]:
    """What our sync should send, call for call, when nothing fails (keys as the simulator counts them).

    Reads: one HAS_PROPERTY scan per object type, 200 a page (slices past 10,000 add no page).
    Write-back (affiliate_sync/writeback.py): one `batch_read` by `partner_id` per 100 active
    partners (it learns each record's id and current level), one more per 100 partners HubSpot
    did not find by `partner_id` but whose registry entry holds a record id, then one
    `batch_update` per 100 partners found.
    """
    otype = dataset.partner_object_type
    registry = {p["partner_id"]: p for p in dataset.registry}
    active = dataset.active_partner_ids()
    records_by_key = {normalise_partner_id(r["properties"]["partner_id"]): r for r in dataset.partner_records}
    records_by_id = {r["id"]: r for r in dataset.partner_records}
    found_by_key = [pid for pid in active if normalise_partner_id(pid) in records_by_key]
    unmatched_with_id = [
        pid for pid in active
        if pid not in found_by_key and _registry_record_id(registry[pid]) is not None
    ]
    found_by_id = [
        pid for pid in unmatched_with_id
        if normalise_partner_id((records_by_id.get(_registry_record_id(registry[pid])) or {"properties": {}})
                                ["properties"].get("partner_id")) == normalise_partner_id(pid)
    ]
    found = len(found_by_key) + len(found_by_id)
    calls = {
        "search:contacts": _pages(len(_attributed(dataset.contacts))),
        "search:deals": _pages(len(_attributed(dataset.deals))),
        f"batch_read:{otype}": math.ceil(len(active) / BATCH_LIMIT) + math.ceil(len(unmatched_with_id) / BATCH_LIMIT),
        f"batch_update:{otype}": math.ceil(found / BATCH_LIMIT),
    }
    return {key: value for key, value in calls.items() if value}


def expected_baseline_calls(dataset: Dataset) -> dict[str, int]:
    """What the seed's per-partner design sends, counted from the data (no run needed):
    per active partner a contacts search and a deals search (EQ on the id, which HubSpot
    matches ignoring case; one page per 200 matches, at least one), and one PATCH when the
    registry holds the partner's record id."""
    contacts = Counter(normalise_partner_id(pid) for pid in _attributed(dataset.contacts))
    deals = Counter(normalise_partner_id(pid) for pid in _attributed(dataset.deals))
    active = [p for p in dataset.registry if p["status"] == "active"]
    otype = dataset.partner_object_type
    calls = {
        "search:contacts": sum(_pages(contacts[normalise_partner_id(p["partner_id"])]) for p in active),
        "search:deals": sum(_pages(deals[normalise_partner_id(p["partner_id"])]) for p in active),
        # PATCH /crm/v3/objects/{type}/{id}: the simulator counts it under "other".
        f"other:{otype}": sum(1 for p in active if _registry_record_id(p) is not None),
    }
    return {key: value for key, value in calls.items() if value}


def simulator_calls(snapshot: dict[str, Any]) -> dict[str, int]:
    """The simulator's `stats.snapshot()` flattened to `kind:object_type` (e.g. `search:contacts`)."""
    return {
        f"{kind}:{otype}": count
        for kind, per_type in sorted(snapshot["requests"].items())
        for otype, count in sorted(per_type.items())
    }


def _registry_record_id(entry: dict[str, Any]) -> str | None:
    return entry.get("hubspot_affiliate_record_id") or entry.get("hubspot_object_id") or None
