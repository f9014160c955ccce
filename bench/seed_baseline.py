"""The seed's per-partner sync strategy, reproduced for comparison ONLY (never used by the project).

Per active partner, in registry order:

1. a CRM search of contacts filtered by `affiliate_partner_id EQ <id>`, every page;
2. a CRM search of deals filtered the same way, every page;
3. the partner's MRR and level from its deals;
4. one `PATCH /crm/v3/objects/{type}/{record id}` of its partner record (when the registry
   holds the record id);
5. `time.sleep(1)` when the programme has 50 partners or more (the seed's rate-limit guard).

Then the dashboard cache is built and written once. It uses the project's HubSpot client for
transport (so its paging, pacing and retries, which the seed lacked, only help it) and the
project's domain functions for the money, so the difference measured is the strategy alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from affiliate_sync.cache import build_cache, write_cache
from affiliate_sync.hubspot import HubSpotClient
from affiliate_sync.money import compute_mrr, percent_text
from affiliate_sync.registry import load_registry
from affiliate_sync.settings import CONTACT_PROPERTIES, DEAL_PROPERTIES, PARTNER_ID_PROPERTY, Settings

SLEEP_FROM_PARTNERS = 50
SLEEP_SECONDS = 1.0


@dataclass
class BaselineResult:
    partners: int
    leads: int
    deals: int
    patched: int
    slept_seconds: float


def run_seed_baseline(
    client: HubSpotClient, settings: Settings, *, sleep: Callable[[float], None] = time.sleep
) -> BaselineResult:
    """One sync the seed's way (see the module docstring)."""
    synced_at = datetime.now(UTC)
    partners = load_registry(settings.affiliate_registry_path).active
    pause = len(partners) >= SLEEP_FROM_PARTNERS
    leads: dict[str, list[dict[str, Any]]] = {}
    deals: dict[str, list[dict[str, Any]]] = {}
    mrr = {}
    patched = 0
    slept = 0.0
    for partner in partners:  # bounded: one pass over the registry
        pid = partner.partner_id
        by_partner = [{"filters": [{"propertyName": PARTNER_ID_PROPERTY, "operator": "EQ", "value": pid}]}]
        leads[pid] = list(client.search_all("contacts", filter_groups=by_partner, properties=CONTACT_PROPERTIES))
        deals[pid] = list(client.search_all("deals", filter_groups=by_partner, properties=DEAL_PROPERTIES))
        mrr[pid] = compute_mrr(
            {pid: deals[pid]}, [pid], won_stages=settings.hubspot_won_stages, policy=settings.affiliate_levels,
            today=synced_at.date(),
        )[pid]
        if partner.hubspot_record_id:
            _patch_partner_record(client, settings.hubspot_partner_object_type, partner.hubspot_record_id, {
                "level": mrr[pid].level, "mrr_share_percent": percent_text(mrr[pid].mrr_share_percent),
            })
            patched += 1
        if pause:
            sleep(SLEEP_SECONDS)
            slept += SLEEP_SECONDS
    write_cache(
        settings.affiliate_cache_path,
        build_cache(partners=partners, leads=leads, deals=deals, mrr=mrr, synced_at=synced_at),
    )
    return BaselineResult(
        partners=len(partners), leads=sum(map(len, leads.values())), deals=sum(map(len, deals.values())),
        patched=patched, slept_seconds=slept,
    )


def _patch_partner_record(client: HubSpotClient, object_type: str, record_id: str, properties: dict[str, str]) -> None:
    # The project never updates one record at a time, so its client has no public method for
    # it; the request loop (pacing, retries, stats) is reused as is.
    client._request(  # noqa: SLF001 - bench-only reproduction of the seed
        "PATCH",
        f"/crm/v3/objects/{object_type}/{record_id}",
        endpoint=f"patch:{object_type}",
        policy="burst",
        json_body={"properties": properties},
    )
