"""The manual/CI cooldown (SPEC §6 triggers).

A run started by hand (Prefect UI "Run", `prefect deployment run` from CI, `affiliate-sync run`)
within `AFFILIATE_COOLDOWN_SECONDS` (300) of the cache's `last_sync` ends Completed/"Skipped"
with the reason, unless `force=True`. A run the deployment's schedule created is never skipped
for cooldown: the hour's sync must happen even right after a manual one. Dry runs write
nothing, so they are never skipped either.

How a scheduled run is told apart: Prefect's scheduler service creates a deployment's
scheduled runs with `auto_scheduled=True`, `created_by.type == "SCHEDULE"` and an idempotency
key `scheduled <deployment id> <schedule id> <time>`
(prefect/server/models/deployments.py `_generate_scheduled_flow_runs`). Runs created through
the API (UI, CLI, CI, automations) have none of these. The flow reads them from the run's
own `FlowRun` record, which the engine re-reads from the API when the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from affiliate_sync.cache import read_cache
from affiliate_sync.errors import CacheError

_DATETIME = TypeAdapter(datetime)


def is_scheduled_run(flow_run: Any | None) -> bool:
    """True for a run the deployment's schedule created (see the module docstring)."""
    if flow_run is None:
        return False
    if getattr(flow_run, "auto_scheduled", False):
        return True
    created_by = getattr(flow_run, "created_by", None)
    if created_by is not None and str(getattr(created_by, "type", "")).upper() == "SCHEDULE":
        return True
    key = getattr(flow_run, "idempotency_key", None) or ""
    return getattr(flow_run, "deployment_id", None) is not None and key.startswith("scheduled ")


def trigger_of(flow_run: Any | None) -> str:
    """`schedule`, `deployment` (UI, CLI or CI run of a deployment) or `local` (flow called directly)."""
    if is_scheduled_run(flow_run):
        return "schedule"
    if flow_run is not None and getattr(flow_run, "deployment_id", None) is not None:
        return "deployment"
    return "local"


@dataclass(frozen=True)
class CooldownDecision:
    skip: bool
    reason: str


def cooldown_decision(
    cache_path: Path,
    *,
    cooldown_seconds: int,
    force: bool,
    dry_run: bool,
    flow_run: Any | None,
    now: datetime | None = None,
) -> CooldownDecision:
    """Whether this run is skipped for cooldown, and why (the reason is logged either way)."""
    trigger = trigger_of(flow_run)
    if trigger == "schedule":
        return CooldownDecision(False, "scheduled run: never skipped for cooldown")
    if force:
        return CooldownDecision(False, "force=true: cooldown not applied")
    if dry_run:
        return CooldownDecision(False, "dry run: cooldown not applied")
    if cooldown_seconds <= 0:
        return CooldownDecision(False, "cooldown disabled (AFFILIATE_COOLDOWN_SECONDS=0)")
    try:
        raw = read_cache(cache_path).get("last_sync")
    except CacheError:
        return CooldownDecision(False, "cache unreadable: no last sync to cool down from")
    if not raw:
        return CooldownDecision(False, "no previous sync in the cache")
    last_sync = _DATETIME.validate_python(raw)
    if last_sync.tzinfo is None:
        last_sync = last_sync.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    since = now - last_sync
    window = timedelta(seconds=cooldown_seconds)
    if timedelta(0) <= since < window:
        wait = int((window - since).total_seconds()) + 1
        return CooldownDecision(
            True,
            f"Skipped: the last successful sync was {int(since.total_seconds())} s ago "
            f"({last_sync.isoformat(timespec='seconds')}), within the {cooldown_seconds} s cooldown for "
            f"{'manual and CI' if trigger == 'deployment' else 'manual'} runs. Run again with force=true "
            f"(CLI: --force) to sync now, or wait {wait} s.",
        )
    return CooldownDecision(False, f"last sync {int(since.total_seconds())} s ago: outside the cooldown")


def current_flow_run() -> Any | None:
    """The running flow's `FlowRun` (as read from the API at start), or None outside a run."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    return context.flow_run if context is not None else None
