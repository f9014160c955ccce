"""`affiliate-hubspot-sync`: the hourly job of SPEC §1, read top to bottom as its five steps."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import UTC, datetime

from prefect import flow, get_run_logger
from prefect.states import Completed, State
from prefect.utilities.annotations import quote

from affiliate_sync.cache import ensure_replaceable
from affiliate_sync.errors import CacheWriteError
from affiliate_sync.files import LockHeld, file_lock
from affiliate_sync.logs import prefixed
from affiliate_sync.report import SyncReport, build_report
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
    with ExitStack() as held:
        try:
            held.enter_context(file_lock(settings.lock_path, blocking=False))
        except LockHeld:
            logger.info(SKIP_MESSAGE)
            return Completed(message=SKIP_MESSAGE, name="Skipped")
        except OSError as exc:  # only the lock's own open/flock; _sync's errors are not caught here
            raise CacheWriteError(
                f"sync lock {settings.lock_path}: cannot be opened: {exc.strerror or exc} "
                "(the lock file lives in the cache's directory, which the job must be able to write)"
            ) from exc
        return _sync(settings, dry_run=dry_run)


def _sync(settings: Settings, *, dry_run: bool) -> SyncReport:
    started = time.monotonic()
    synced_at = datetime.now(UTC)
    # quote(): Prefect would otherwise walk every record of these large inputs looking for
    # futures, which cost seconds per task on a thousand partners.

    # 0. the cache we are about to replace must be one we understand (never overwrite a broken one)
    previous_cache = ensure_replaceable(settings.affiliate_cache_path)

    # 1. the registry's active partners
    registry = load_partner_registry(settings.affiliate_registry_path)
    active_ids = [p.partner_id for p in registry.active]

    with hubspot_client(settings) as client:
        # 2. every attributed contact and deal
        records = fetch_attributed_records(quote(client), quote(registry), quote(previous_cache))

        # 3. MRR figures and levels
        mrr = compute_levels(
            quote(records.deals), quote(active_ids), settings.hubspot_won_stages, settings.affiliate_levels,
            synced_at.date(),
        )

        # 4. level and MRR share back to HubSpot, level and record id back to the registry
        pushed = push_levels_to_hubspot(
            quote(client), settings.hubspot_partner_object_type, quote(registry), quote(mrr), dry_run
        )
    written = write_registry_levels(
        settings.affiliate_registry_path, quote(registry), quote(mrr), quote(pushed.record_ids), dry_run
    )

    # 5. the dashboard cache, atomically
    write_dashboard_cache(
        settings.affiliate_cache_path, quote(registry), quote(records), quote(mrr), synced_at, dry_run
    )

    report = build_report(
        registry=registry, leads=records.leads, deals=records.deals, mrr=mrr, pushed=pushed,
        written=written, api=client.stats, dry_run=dry_run, cache_path=settings.affiliate_cache_path,
        duration_seconds=time.monotonic() - started,
    )
    publish_report(quote(report))  # its level moves were ~0.8 s of input walking on 1,000 partners
    report.raise_for_rejections()
    return report
