"""The sync's five stages as Prefect tasks (SPEC §1). Domain logic lives in `affiliate_sync`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from affiliate_sync.attribution import Attribution, attribute
from affiliate_sync.cache import build_cache, cache_has_data, write_cache
from affiliate_sync.errors import HubSpotEmptyError
from affiliate_sync.hubspot import HubSpotClient
from affiliate_sync.logs import prefixed
from affiliate_sync.money import PartnerMrr, compute_mrr
from affiliate_sync.registry import PartnerUpdate, Registry, RegistryWriteResult, apply_updates, load_registry
from affiliate_sync.report import SyncReport
from affiliate_sync.settings import CONTACT_PROPERTIES, DEAL_PROPERTIES, LOG_PREFIX, LevelPolicy
from affiliate_sync.writeback import WriteBackResult, push_levels
from tasks.retry import TASK_RETRIES, TASK_RETRY_DELAYS, TASK_RETRY_JITTER, worth_retrying

# Task inputs are large record lists and a live client: never hash or persist them.
STAGE = dict(cache_policy=NO_CACHE, persist_result=False)
RETRYING = dict(
    retries=TASK_RETRIES,
    retry_delay_seconds=TASK_RETRY_DELAYS,
    retry_jitter_factor=TASK_RETRY_JITTER,
    retry_condition_fn=worth_retrying,
    **STAGE,
)

LOG_LINES_PER_RECORD = 200


@dataclass
class AttributedRecords:
    leads: Attribution
    deals: Attribution


@task(name="load-registry", retries=1, retry_delay_seconds=2, **STAGE)
def load_partner_registry(path: Path) -> Registry:
    """Read and validate the registry; the flow keeps its active partners."""
    registry = load_registry(path)
    prefixed(get_run_logger()).info(
        "Registry %s: %d partners, %d active", path, len(registry.partners), len(registry.active)
    )
    return registry


@task(name="fetch-hubspot-records", **RETRYING)
def fetch_attributed_records(
    client: HubSpotClient, registry: Registry, previous_cache: Mapping[str, Any]
) -> AttributedRecords:
    """Scan every attributed contact and deal (all pages) and group them by active partner."""
    active_ids = [p.partner_id for p in registry.active]
    known_ids = [p.partner_id for p in registry.partners]
    contacts = client.scan_attributed("contacts", properties=CONTACT_PROPERTIES)
    deals = client.scan_attributed("deals", properties=DEAL_PROPERTIES)
    records = AttributedRecords(
        leads=attribute(contacts, active_ids, known_ids), deals=attribute(deals, active_ids, known_ids)
    )
    _refuse_empty_answer(records, previous_cache)
    prefixed(get_run_logger()).info(
        "HubSpot: %d contacts and %d deals scanned; %d leads and %d deals for active partners",
        len(contacts), len(deals), records.leads.record_count, records.deals.record_count,
    )
    return records


def _refuse_empty_answer(records: AttributedRecords, previous_cache: Mapping[str, Any]) -> None:
    if records.leads.record_count or records.deals.record_count:
        return
    if cache_has_data(previous_cache):
        raise HubSpotEmptyError(
            "HubSpot returned no contacts and no deals for any active partner, but the cache "
            "holds data: refusing to overwrite it (wrong portal or token?)"
        )


@task(name="compute-mrr-and-levels", **STAGE)
def compute_levels(
    deals: Attribution, partner_ids: Sequence[str], won_stages: Sequence[str], policy: LevelPolicy, today: date
) -> dict[str, PartnerMrr]:
    """Each active partner's level and MRR figures (SPEC §4)."""
    return compute_mrr(deals.by_partner, partner_ids, won_stages=won_stages, policy=policy, today=today)


@task(name="push-levels-to-hubspot", **RETRYING)
def push_levels_to_hubspot(
    client: HubSpotClient, object_type: str, registry: Registry, mrr: Mapping[str, PartnerMrr], dry_run: bool
) -> WriteBackResult:
    """Write level and MRR share to each active partner's HubSpot record (batched)."""
    result = push_levels(client, object_type, registry.active, mrr, dry_run=dry_run)
    logger = prefixed(get_run_logger())
    verb = "would change" if dry_run else "changed"
    logger.info("HubSpot partner records: %d found, %s %d", len(result.record_ids), verb, len(result.hubspot_changes))
    for partner_id in result.without_record:
        logger.warning("Partner %s has no HubSpot partner record; level not written there", partner_id)
    for partner_id, why in result.failed.items():
        logger.error("HubSpot refused the level update for partner %s: %s", partner_id, why)
    return result


@task(name="write-registry-levels", retries=2, retry_delay_seconds=1, **STAGE)
def write_registry_levels(
    path: Path, registry: Registry, mrr: Mapping[str, PartnerMrr], record_ids: Mapping[str, str], dry_run: bool
) -> RegistryWriteResult:
    """Write level and HubSpot record id into the registry under its lock, re-reading it first."""
    updates = {
        p.partner_id: PartnerUpdate(level=mrr[p.partner_id].level, hubspot_record_id=record_ids.get(p.partner_id))
        for p in registry.active
    }
    result = apply_updates(path, updates, dry_run=dry_run)
    logger = prefixed(get_run_logger())
    # A line per partner, but up to 200 lines to a log record: a record costs ~2 ms in
    # Prefect's handlers, and a thousand of them were 2 s of a reference-load run
    # (docs/PERFORMANCE.md); 200 lines stay far below Prefect's 1 MB cap on one API log.
    verb = "would change" if dry_run else "changed"
    lines = [
        f"Registry {verb} {partner_id}: "
        + ", ".join(f"{field}: {old!r} → {new!r}" for field, (old, new) in changes.items())
        for partner_id, changes in result.changed.items()
    ]
    for start in range(0, len(lines), LOG_LINES_PER_RECORD):
        # Every line keeps the prefix, so grepping the console still finds each partner.
        logger.info(f"\n{LOG_PREFIX} ".join(lines[start : start + LOG_LINES_PER_RECORD]))
    for partner_id in result.missing:
        logger.warning("Partner %s left the registry during the run; not re-added", partner_id)
    return result


@task(name="write-dashboard-cache", retries=2, retry_delay_seconds=1, **STAGE)
def write_dashboard_cache(
    path: Path,
    registry: Registry,
    records: AttributedRecords,
    mrr: Mapping[str, PartnerMrr],
    synced_at: datetime,
    dry_run: bool,
) -> dict[str, Any]:
    """Build the cache for exactly the active partners and replace the file atomically."""
    cache = build_cache(
        partners=registry.active, leads=records.leads.by_partner, deals=records.deals.by_partner,
        mrr=mrr, synced_at=synced_at,
    )
    logger = prefixed(get_run_logger())
    if dry_run:
        logger.info("Dry run: cache %s not written (%d partners would be in it)", path, len(cache["partners"]))
    else:
        write_cache(path, cache)
        logger.info("Cache written: %s (%d partners)", path, len(cache["partners"]))
    return cache


@task(name="publish-run-report", **STAGE)
def publish_report(report: SyncReport) -> None:
    """Publish the run summary table and the level-change list as Prefect artifacts."""
    create_table_artifact(
        key="affiliate-sync-summary", table=report.table_rows(), description=report.one_line()
    )
    create_markdown_artifact(key="affiliate-sync-level-changes", markdown=report.level_changes_markdown())
    prefixed(get_run_logger()).info("Sync %s", report.one_line())
