"""Step 4, HubSpot side: push each active partner's level and MRR share to its partner record.

Records are addressed by the unique `partner_id` property (`idProperty`), so one batch call
per 100 partners both writes and tells us each partner's record id: the registry learns
missing ids and corrects ids that point at another partner's record. A partner whose
`partner_id` HubSpot does not know exactly (sales typed it in another case) is found again
through the record id the registry holds, if that record's `partner_id` matches ignoring case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from affiliate_sync.attribution import normalise_partner_id
from affiliate_sync.hubspot import HubSpotClient
from affiliate_sync.money import PartnerMrr, percent_differs, percent_text
from affiliate_sync.registry import Partner

PARTNER_KEY = "partner_id"


@dataclass
class LevelChange:
    partner_id: str
    record_id: str | None
    old_level: str | None
    new_level: str
    old_share: str | None
    new_share: str


@dataclass
class WriteBackResult:
    """What the push did (or, in a dry run, would do) per partner."""

    record_ids: dict[str, str] = field(default_factory=dict)
    without_record: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    hubspot_changes: list[LevelChange] = field(default_factory=list)
    dry_run: bool = False


def push_levels(
    api: HubSpotClient,
    object_type: str,
    partners: Sequence[Partner],
    mrr: Mapping[str, PartnerMrr],
    *,
    dry_run: bool = False,
) -> WriteBackResult:
    """Write level and share for `partners`; in a dry run only read, and report what would change."""
    result = WriteBackResult(dry_run=dry_run)
    wanted = {p.partner_id: {"level": mrr[p.partner_id].level, "mrr_share_percent": percent_text(mrr[p.partner_id].mrr_share_percent)} for p in partners}
    found = _read_current(api, object_type, list(wanted), id_property=PARTNER_KEY)
    unmatched = [p for p in partners if p.partner_id not in found]
    found.update(_find_by_registry_id(api, object_type, unmatched))
    result.without_record = sorted(p.partner_id for p in partners if p.partner_id not in found)

    for partner_id, record in found.items():
        result.record_ids[partner_id] = str(record["id"])
        props = record.get("properties") or {}
        if props.get("level") != wanted[partner_id]["level"] or percent_differs(
            props.get("mrr_share_percent"), wanted[partner_id]["mrr_share_percent"]
        ):
            result.hubspot_changes.append(
                LevelChange(
                    partner_id=partner_id,
                    record_id=str(record["id"]),
                    old_level=props.get("level"),
                    new_level=wanted[partner_id]["level"],
                    old_share=props.get("mrr_share_percent"),
                    new_share=wanted[partner_id]["mrr_share_percent"],
                )
            )
    if dry_run or not found:
        return result
    # Every found record is written, not only the changed ones, so a value edited by hand in
    # HubSpot between our read and write is still put right.
    inputs = [{"id": str(record["id"]), "properties": wanted[pid]} for pid, record in found.items()]
    answer = api.batch_update(object_type, inputs, id_property=None)
    by_record = {str(record["id"]): pid for pid, record in found.items()}
    for error in answer.errors:
        for record_id in error.ids:
            result.failed[by_record.get(record_id, record_id)] = f"{error.category or 'ERROR'}: {error.message}"
    return result


def _read_current(
    api: HubSpotClient, object_type: str, keys: Sequence[str], *, id_property: str | None
) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    answer = api.batch_read(
        object_type, keys, properties=[PARTNER_KEY, "level", "mrr_share_percent"], id_property=id_property
    )
    by_key = {normalise_partner_id(k): k for k in keys}
    found: dict[str, dict[str, Any]] = {}
    for record in answer.results:
        partner_id = by_key.get(normalise_partner_id((record.get("properties") or {}).get(PARTNER_KEY)))
        if partner_id is not None:
            found[partner_id] = record
    return found


def _find_by_registry_id(
    api: HubSpotClient, object_type: str, partners: Sequence[Partner]
) -> dict[str, dict[str, Any]]:
    with_id = {p.hubspot_record_id: p.partner_id for p in partners if p.hubspot_record_id}
    if not with_id:
        return {}
    answer = api.batch_read(object_type, list(with_id), properties=[PARTNER_KEY, "level", "mrr_share_percent"])
    found: dict[str, dict[str, Any]] = {}
    for record in answer.results:
        partner_id = with_id.get(str(record["id"]))
        stored = normalise_partner_id((record.get("properties") or {}).get(PARTNER_KEY))
        if partner_id is not None and stored == normalise_partner_id(partner_id):
            found[partner_id] = record
    return found
