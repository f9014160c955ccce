"""`affiliate-health-check`: the daily cache health check (SPEC §6), deployed as `.../daily`.

`ok` completes; `warning` completes and logs a warning; `error` fails the run, so the same
alert hooks as the sync send the e-mail (code `sync_stale`, or `cache_invalid` when the file
is unreadable).
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from affiliate_sync.health import HealthCheckFailed, HealthStatus, check_health
from affiliate_sync.logs import prefixed
from affiliate_sync.settings import load_settings
from flows.alerts import ALERT_HOOKS

FLOW_NAME = "affiliate-health-check"


@flow(
    name=FLOW_NAME,
    description="Check that the dashboard cache exists, is valid and was synced recently (2 h warning, 6 h error).",
    **ALERT_HOOKS,
)
def affiliate_health_check() -> dict:
    """Judge the dashboard cache; fail (and alert) when it is missing, invalid or older than 6 h."""
    settings = load_settings()
    logger = prefixed(get_run_logger())
    report = check_health(settings.affiliate_cache_path)
    create_markdown_artifact(
        key="affiliate-sync-health",
        markdown=f"**{report.status.upper()}** (exit {report.exit_code}): {report.message}\n\n"
        f"cache `{report.cache_path}`, checked {report.checked_at.isoformat(timespec='seconds')}",
        description=report.one_line(),
    )
    if report.status is HealthStatus.ERROR:
        logger.error("Health %s", report.one_line())
        raise HealthCheckFailed(report)
    if report.status is HealthStatus.WARNING:
        logger.warning("Health %s", report.one_line())
    else:
        logger.info("Health %s", report.one_line())
    return report.as_json()
