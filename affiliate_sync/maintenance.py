"""One-off maintenance (SPEC §6): each operation plans first and, unless it is a dry run, applies.

A dry run makes only reads — HubSpot GET/search/batch-read and a registry read without the
lock — so it changes no file (not even the registry's lock file) and no HubSpot record.

* `add_level_option`: make HubSpot's `level` enumeration on the partner object contain
  `beginner`. HubSpot replaces options as a whole, so every existing option is written back
  exactly as read, and `beginner` is appended after them (display order is cosmetic and
  left to whoever arranged it in HubSpot). Idempotent; a hidden `beginner` is un-hidden.
* `backfill_beginner`: `level: beginner` in the registry for `pending_verification`
  partners and for `starter` partners that never had a won deal, written through
  `registry.apply_updates` (registry lock, re-read, other fields untouched).
* `set_level`: a level and its MRR share (from the level policy) on HubSpot partner
  records — chosen partner ids, or every partner record in HubSpot (records that exist only
  there included); only records that differ are written, by record id, in batches of 100.

Pure domain logic (no Prefect): the CLI and the Prefect flows render the results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from contextlib import AbstractContextManager as ContextManager
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from affiliate_sync.attribution import normalise_partner_id
from affiliate_sync.cache import read_cache
from affiliate_sync.errors import AffiliateSyncError, ErrorCode
from affiliate_sync.hubspot import BatchResult
from affiliate_sync.money import percent_differs, percent_text, won_deals_table
from affiliate_sync.registry import PartnerUpdate, Registry, apply_updates, load_registry
from affiliate_sync.settings import DEAL_PROPERTIES, LEVELS, PARTNER_ID_PROPERTY, Level, LevelPolicy, Settings

LEVEL_PROPERTY = "level"
SHARE_PROPERTY = "mrr_share_percent"
PARTNER_KEY = "partner_id"
BEGINNER: Level = "beginner"
RECORD_PROPERTIES = (PARTNER_KEY, LEVEL_PROPERTY, SHARE_PROPERTY)
WonDealsSource = Literal["hubspot", "cache"]


class MaintenanceError(AffiliateSyncError):
    """A maintenance step that cannot go ahead; the message says what to do first."""


class PropertyApi(Protocol):
    def get_property(self, object_type: str, name: str) -> dict[str, Any]: ...

    def update_property_options(
        self, object_type: str, name: str, options: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]: ...


class PartnerRecordApi(Protocol):
    def search_all(
        self, object_type: str, *, filter_groups: Sequence[dict[str, Any]] | None = None, properties: Sequence[str]
    ) -> Iterable[dict[str, Any]]: ...

    def search_partner(
        self, object_type: str, partner_id: str, properties: Sequence[str], partner_property: str = ...
    ) -> list[dict[str, Any]]: ...

    def batch_read(
        self, object_type: str, ids: Sequence[str], *, properties: Sequence[str], id_property: str | None = None
    ) -> BatchResult: ...

    def batch_update(
        self, object_type: str, inputs: Sequence[dict[str, Any]], *, id_property: str | None = None
    ) -> BatchResult: ...

    def get_property(self, object_type: str, name: str) -> dict[str, Any]: ...


class DealScanApi(Protocol):
    def scan_attributed(self, object_type: str, properties: Sequence[str]) -> list[dict[str, Any]]: ...


# =============================================================================== add-level-option


class LevelOptionResult(BaseModel):
    object_type: str
    property: str = LEVEL_PROPERTY
    dry_run: bool
    before: list[str]
    after: list[str]
    diff: list[str] = Field(default_factory=list)
    changed: bool
    applied: bool = False

    def lines(self) -> list[str]:
        head = f"{self.object_type}.{self.property} options: {', '.join(self.before) or '—'}"
        if not self.changed:
            return [head, f"'{BEGINNER}' is already an option: nothing to do"]
        verb = "would change (dry run)" if self.dry_run else "changed"
        return [head, f"{verb}:", *(f"  {line}" for line in self.diff), f"now: {', '.join(self.after)}"]


def plan_level_options(options: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """All options with `beginner` present and visible, and the diff lines; unchanged if already so."""
    planned = [dict(option) for option in options]
    existing = next((o for o in planned if str(o.get("value")) == BEGINNER), None)
    if existing is None:
        orders = [o["displayOrder"] for o in planned if isinstance(o.get("displayOrder"), int)]
        added = {"label": BEGINNER.title(), "value": BEGINNER, "displayOrder": max(orders, default=-1) + 1, "hidden": False}
        planned.append(added)
        return planned, [f"+ {BEGINNER} (label {added['label']!r}, displayOrder {added['displayOrder']})"]
    if existing.get("hidden"):
        existing["hidden"] = False
        return planned, [f"~ {BEGINNER}: hidden → visible"]
    return planned, []


def add_level_option(api: PropertyApi, object_type: str, *, dry_run: bool) -> LevelOptionResult:
    definition = api.get_property(object_type, LEVEL_PROPERTY)
    if definition.get("type") != "enumeration":
        raise MaintenanceError(
            f"HubSpot property {object_type}.{LEVEL_PROPERTY} is of type {definition.get('type')!r}, not an "
            "enumeration: fix the property in HubSpot's settings first"
        )
    current = list(definition.get("options") or [])
    planned, diff = plan_level_options(current)
    result = LevelOptionResult(
        object_type=object_type, dry_run=dry_run, before=_values(current), after=_values(planned),
        diff=diff, changed=bool(diff),
    )
    if result.changed and not dry_run:
        answer = api.update_property_options(object_type, LEVEL_PROPERTY, planned)
        result.after = _values(answer.get("options") or planned)
        result.applied = True
    return result


def _values(options: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(option.get("value")) for option in options]


# =============================================================================== backfill-beginner


@dataclass(frozen=True)
class WonDeals:
    """Won deals ever per (normalised) partner id; `complete` means an absent id has none."""

    counts: Mapping[str, int]
    complete: bool
    source: WonDealsSource

    def known(self, partner_id: str) -> bool:
        return self.complete or partner_id in self.counts

    def of(self, partner_id: str) -> int:
        return int(self.counts.get(partner_id, 0))


def won_deals_from_hubspot(api: DealScanApi, won_stages: Iterable[str]) -> WonDeals:
    """Every attributed deal, live: covers every partner, whatever their status."""
    deals = api.scan_attributed("deals", properties=DEAL_PROPERTIES)
    by_partner: dict[str, list[dict[str, Any]]] = {}
    for deal in deals:
        pid = normalise_partner_id((deal.get("properties") or {}).get(PARTNER_ID_PROPERTY))
        if pid:
            by_partner.setdefault(pid, []).append(deal)
    won = won_deals_table(by_partner, won_stages)
    return WonDeals(counts=Counter(won["partner_id"]), complete=True, source="hubspot")


def won_deals_from_cache(cache: Mapping[str, Any]) -> WonDeals:
    """The last sync's `total_deals`: only active partners are in the cache, the rest stay unknown."""
    counts = {
        pid: int(summary.get("total_deals") or 0)
        for pid, summary in (cache.get("mrr_summary") or {}).items()
        if isinstance(summary, Mapping)
    }
    return WonDeals(counts=counts, complete=False, source="cache")


def load_won_deals(
    settings: Settings, source: WonDealsSource, open_client: Callable[[], ContextManager[DealScanApi]]
) -> WonDeals:
    """Won deals per partner from a live HubSpot scan, or from the last sync's cache."""
    if source == "hubspot":
        with open_client() as client:
            return won_deals_from_hubspot(client, settings.hubspot_won_stages)
    return won_deals_from_cache(read_cache(settings.affiliate_cache_path))


class BackfillChange(BaseModel):
    partner_id: str
    name: str
    status: str
    old_level: str | None
    new_level: str = BEGINNER
    reason: str


class BackfillSkip(BaseModel):
    partner_id: str
    reason: str


class BackfillResult(BaseModel):
    registry_path: str
    dry_run: bool
    won_deals_source: WonDealsSource
    changes: list[BackfillChange] = Field(default_factory=list)
    skipped: list[BackfillSkip] = Field(default_factory=list)
    vanished: list[str] = Field(default_factory=list)
    written: bool = False

    def lines(self) -> list[str]:
        verb = "would set" if self.dry_run else "set"
        lines = [
            f"{verb} {c.partner_id} ({c.name or '—'}, {c.status}): level {c.old_level or '—'} → {c.new_level}: {c.reason}"
            for c in self.changes
        ]
        lines += [f"skipped {s.partner_id}: {s.reason}" for s in self.skipped]
        lines += [f"{pid} left the registry meanwhile: not re-added" for pid in self.vanished]
        total = f"{len(self.changes)} partner(s) {'would change (dry run, nothing written)' if self.dry_run else 'changed'}"
        return [*lines, f"{total}; registry {self.registry_path}"]


def plan_backfill(registry: Registry, won: WonDeals) -> tuple[list[BackfillChange], list[BackfillSkip]]:
    changes: list[BackfillChange] = []
    skipped: list[BackfillSkip] = []
    for partner in registry.partners:
        if partner.level == BEGINNER:
            continue
        if partner.status == "pending_verification":
            reason = "pending verification"
        elif partner.level == "starter":
            if not won.known(partner.partner_id):
                skipped.append(BackfillSkip(
                    partner_id=partner.partner_id,
                    reason=f"starter, but not in the {won.source}: won deals unknown (use the HubSpot source)",
                ))
                continue
            if won.of(partner.partner_id):
                continue
            reason = f"starter, never had a won deal per {won.source}"
        else:
            continue
        changes.append(BackfillChange(
            partner_id=partner.partner_id, name=partner.name, status=partner.status,
            old_level=partner.level, reason=reason,
        ))
    return changes, skipped


def backfill_beginner(registry_path: Path, won: WonDeals, *, dry_run: bool) -> BackfillResult:
    """Plan from a plain read; apply under the registry lock (which re-reads and reports what it changed)."""
    changes, skipped = plan_backfill(load_registry(registry_path), won)
    result = BackfillResult(
        registry_path=str(registry_path), dry_run=dry_run, won_deals_source=won.source, changes=changes, skipped=skipped
    )
    if dry_run or not changes:
        return result
    written = apply_updates(registry_path, {c.partner_id: PartnerUpdate(level=BEGINNER) for c in changes})
    # Only what the locked re-read actually changed is reported as changed.
    result.changes = [c for c in changes if c.partner_id in written.changed]
    result.vanished = written.missing
    result.written = written.written
    return result


# =============================================================================== set-level


class RecordLevelChange(BaseModel):
    partner_id: str | None
    record_id: str
    old_level: str | None
    new_level: str
    old_share: str | None
    new_share: str


class SetLevelResult(BaseModel):
    object_type: str
    level: str
    share_percent: str
    dry_run: bool
    all_records: bool
    requested: list[str] = Field(default_factory=list)
    changes: list[RecordLevelChange] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    not_found: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)
    written: int = 0

    def lines(self) -> list[str]:
        verb = "would set" if self.dry_run else "set"
        lines = [
            f"{verb} {c.partner_id or '(no partner_id)'} (record {c.record_id}): level {c.old_level or '—'} → "
            f"{c.new_level}, share {c.old_share or '—'} → {c.new_share}"
            for c in self.changes
            if c.record_id not in self.failed
        ]
        lines += [f"FAILED {key}: {why}" for key, why in sorted(self.failed.items())]
        lines += [f"not found in HubSpot: {pid}" for pid in self.not_found]
        done = len(self.changes) - len(self.failed)
        lines.append(
            f"{done} record(s) {'would change (dry run, nothing written)' if self.dry_run else 'changed'}, "
            f"{len(self.unchanged)} already {self.level} at {self.share_percent}%, {len(self.not_found)} not found, "
            f"{len(self.failed)} failed"
        )
        return lines


def set_level(
    api: PartnerRecordApi,
    object_type: str,
    level: str,
    policy: LevelPolicy,
    *,
    partner_ids: Sequence[str] = (),
    all_records: bool = False,
    dry_run: bool,
) -> SetLevelResult:
    if level not in LEVELS:
        raise MaintenanceError(f"unknown level {level!r}; expected one of {', '.join(LEVELS)}")
    if all_records == bool(partner_ids):
        raise MaintenanceError("name partner ids or pass --all (not both)")
    _require_level_option(api, object_type, level)
    share = percent_text(policy.share_percent(level))  # type: ignore[arg-type]
    wanted = list(dict.fromkeys(normalise_partner_id(pid) for pid in partner_ids))
    result = SetLevelResult(
        object_type=object_type, level=level, share_percent=share, dry_run=dry_run, all_records=all_records,
        requested=wanted,
    )
    if all_records:
        records = list(api.search_all(object_type, properties=RECORD_PROPERTIES))
    else:
        records, result.not_found = _records_by_partner_id(api, object_type, wanted)
    for record in records:
        props = record.get("properties") or {}
        if props.get(LEVEL_PROPERTY) == level and not percent_differs(props.get(SHARE_PROPERTY), share):
            result.unchanged.append(props.get(PARTNER_KEY) or str(record["id"]))
            continue
        result.changes.append(RecordLevelChange(
            partner_id=props.get(PARTNER_KEY), record_id=str(record["id"]),
            old_level=props.get(LEVEL_PROPERTY), new_level=level,
            old_share=props.get(SHARE_PROPERTY), new_share=share,
        ))
    if dry_run or not result.changes:
        return result
    answer = api.batch_update(
        object_type,
        [{"id": c.record_id, "properties": {LEVEL_PROPERTY: level, SHARE_PROPERTY: share}} for c in result.changes],
    )
    for error in answer.errors:
        for record_id in error.ids:
            result.failed[record_id] = f"{error.category or 'ERROR'}: {error.message}"
    result.written = len(result.changes) - len(result.failed)
    return result


def _require_level_option(api: PartnerRecordApi, object_type: str, level: str) -> None:
    """Fail before writing anything when HubSpot would refuse the value (a 207 for every record)."""
    options = _values(api.get_property(object_type, LEVEL_PROPERTY).get("options") or [])
    if level not in options:
        raise MaintenanceError(
            f"HubSpot's {object_type}.{LEVEL_PROPERTY} has no option {level!r} (options: {', '.join(options)}); "
            "run `affiliate-sync hubspot add-level-option` first",
            code=ErrorCode.HUBSPOT_REJECTED,
        )


def _records_by_partner_id(
    api: PartnerRecordApi, object_type: str, partner_ids: Sequence[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Records by exact `partner_id` (batch read), then by a case-insensitive search for the rest."""
    if not partner_ids:
        return [], []
    answer = api.batch_read(object_type, partner_ids, properties=RECORD_PROPERTIES, id_property=PARTNER_KEY)
    found: dict[str, dict[str, Any]] = {}
    for record in answer.results:
        found.setdefault(normalise_partner_id((record.get("properties") or {}).get(PARTNER_KEY)), record)
    for pid in partner_ids:
        if pid not in found:
            # Sales may have typed the id in another case; HubSpot search matches case-insensitively.
            matches = api.search_partner(object_type, pid, RECORD_PROPERTIES, partner_property=PARTNER_KEY)
            if matches:
                found[pid] = matches[0]
    records = list({str(r["id"]): r for pid in partner_ids if (r := found.get(pid)) is not None}.values())
    return records, [pid for pid in partner_ids if pid not in found]
