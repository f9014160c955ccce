"""`affiliate-hubspot-sync`: the hourly job of SPEC §1, read top to bottom as its five steps."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.states import Completed, State

from affiliate_sync.errors import HubSpotRejectedError
from affiliate_sync.files import LockHeld, file_lock
from affiliate_sync.logs import prefixed
from affiliate_sync.report import LevelMove, SyncReport
from affiliate_sync.settings import SKIP_MESSAGE, Settings, load_settings
from flows.alerts import ALERT_HOOKS
from flows.connections import hubspot_client
from flows.cooldown import cooldown_decision, current_flow_run
from tasks.sync import (
    compute_levels,
    fetch_attributed_records,
    load_partner_registry,
    publish_report,
    push_levels_to_hubspot,
    write_dashboard_cache,
    write_registry_levels,
)

FLOW_NAME = "affiliate-hubspot-sync"


@flow(
    name=FLOW_NAME,
    description="Sync affiliate partners' leads, deals, MRR and levels from HubSpot into the dashboard cache.",
    **ALERT_HOOKS,  # one e-mail per failed or crashed run, however it was started (flows/alerts.py)
)
def affiliate_hubspot_sync(dry_run: bool = False, force: bool = False) -> SyncReport | State:
    """Pull every active partner's HubSpot records, compute MRR and levels, write back, write the cache.

    Args:
        dry_run: compute everything and report what would change in HubSpot, the registry and
            the cache, but write nothing.
        force: run even when a manual or CI run comes within the cooldown of the last sync.
    """
    settings = load_settings()
    logger = prefixed(get_run_logger())
    cooldown = cooldown_decision(
        settings.affiliate_cache_path, cooldown_seconds=settings.affiliate_cooldown_seconds,
        force=force, dry_run=dry_run, flow_run=current_flow_run(),
    )
    if cooldown.skip:  # manual and CI runs only; scheduled runs never (flows/cooldown.py)
        logger.info(cooldown.reason)
        return Completed(message=cooldown.reason, name="Skipped")
    try:
        with file_lock(settings.lock_path, blocking=False):
            return _sync(settings, dry_run=dry_run)
    except LockHeld:
        logger.info(SKIP_MESSAGE)
        return Completed(message=SKIP_MESSAGE, name="Skipped")


def _sync(settings: Settings, *, dry_run: bool) -> SyncReport:
    started = time.monotonic()
    synced_at = datetime.now(UTC)
    report = SyncReport(dry_run=dry_run, cache_path=str(settings.affiliate_cache_path))

    # 1. the registry's active partners
    registry = load_partner_registry(settings.affiliate_registry_path)
    active_ids = [p.partner_id for p in registry.active]

    with hubspot_client(settings) as client:
        # 2. every attributed contact and deal
        records = fetch_attributed_records(client, registry, settings.affiliate_cache_path)

        # 3. MRR figures and levels
        mrr = compute_levels(
            records.deals, active_ids, settings.hubspot_won_stages, settings.affiliate_levels, synced_at.date()
        )

        # 4. level and MRR share back to HubSpot, level and record id back to the registry
        pushed = push_levels_to_hubspot(
            client, settings.hubspot_partner_object_type, registry, mrr, dry_run
        )
        stats = client.stats
    written = write_registry_levels(settings.affiliate_registry_path, registry, mrr, pushed.record_ids, dry_run)

    # 5. the dashboard cache, atomically
    write_dashboard_cache(settings.affiliate_cache_path, registry, records, mrr, synced_at, dry_run)

    report.partners = len(active_ids)
    report.leads = records.leads.record_count
    report.deals = records.deals.record_count
    report.add_money(mrr)
    report.level_moves = [
        LevelMove(partner_id=p.partner_id, name=p.name, old_level=p.level, new_level=mrr[p.partner_id].level,
                  won_deals_in_window=mrr[p.partner_id].won_deals_in_window)
        for p in registry.active
        if p.level != mrr[p.partner_id].level
    ]
    report.without_hubspot_record = pushed.without_record
    report.hubspot_write_failures = pushed.failed
    report.hubspot_changes = len(pushed.hubspot_changes)
    report.registry_changes = len(written.changed)
    report.unknown_partner_ids = len(records.leads.unknown_ids | records.deals.unknown_ids)
    report.api_calls = stats.total_calls
    report.rate_limited_429s = stats.total_rate_limited
    report.duration_seconds = time.monotonic() - started
    publish_report(report)
    if report.hubspot_write_failures:
        raise HubSpotRejectedError(
            f"HubSpot refused the level update for {len(report.hubspot_write_failures)} partner(s) "
            "(cache and registry were written): "
            + "; ".join(f"{pid}: {why}" for pid, why in sorted(report.hubspot_write_failures.items())[:5])
        )
    return report
