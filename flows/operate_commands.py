"""`affiliate-sync health` and `affiliate-sync verify-deployment` (registered in flows/cli.py).

`health` reads only the cache (no Prefect, no HubSpot): exit 0 ok, 2 warning, 1 error.
`verify-deployment` asks the Prefect API (PREFECT_API_URL) whether the production install is
what prefect.yaml promises; every check is printed, failed ones by name; exit 0 / 1.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from affiliate_sync.health import check_health
from affiliate_sync.settings import LOG_PREFIX, load_settings

SYNC_DEPLOYMENT = "affiliate-hubspot-sync/hourly"
HEALTH_DEPLOYMENT = "affiliate-health-check/daily"
WORK_POOL = "affiliate-sync"
HOURLY_CRON = "0 * * * *"
DAILY_CRON = "0 9 * * *"
DEFAULT_WORKER_SILENCE = 90.0  # seconds; 3 missed heartbeats at Prefect's default 30 s


def health(
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    cache_path: Path | None = typer.Option(None, "--cache-path", help="Cache to check (default AFFILIATE_CACHE_PATH)."),
) -> None:
    """Check the dashboard cache: exit 0 ok (< 2 h), 2 warning (2-6 h or no last_sync), 1 error."""
    path = cache_path.expanduser().absolute() if cache_path else load_settings().affiliate_cache_path
    report = check_health(path)
    if json_output:
        typer.echo(json.dumps(report.as_json(), indent=2))
    else:
        typer.echo(f"{LOG_PREFIX} health {report.one_line()}", err=report.exit_code != 0)
    raise typer.Exit(report.exit_code)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def verify_deployment(
    json_output: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    deployment: str = typer.Option(SYNC_DEPLOYMENT, "--deployment", help="flow-name/deployment-name to verify."),
    health_deployment: str = typer.Option(HEALTH_DEPLOYMENT, "--health-deployment", help="The daily health deployment."),
    work_pool: str = typer.Option(WORK_POOL, "--work-pool", help="Work pool the deployment must use."),
    max_worker_silence: float | None = typer.Option(
        None,
        "--max-worker-silence",
        help="Seconds since a worker's last poll before it counts as gone "
        "(default: 3 heartbeats as the worker reports them, else 90).",
    ),
) -> None:
    """Ask the Prefect API whether the hourly deployment is live: schedule, concurrency 1, pool, a polling worker."""
    try:
        checks = asyncio.run(
            collect_checks(
                deployment=deployment,
                health_deployment=health_deployment,
                work_pool=work_pool,
                max_worker_silence=max_worker_silence,
            )
        )
    except Exception as exc:  # an API answer we did not expect: still a named failure, not a traceback
        checks = [Check("api_error", False, f"{type(exc).__name__}: {exc}")]
    failed = [c for c in checks if not c.ok]
    if json_output:
        typer.echo(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks],
                               "failed": [c.name for c in failed]}, indent=2))
    else:
        for check in checks:
            typer.echo(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if failed:
            typer.echo(f"{LOG_PREFIX} verify-deployment: {len(failed)} check(s) failed: "
                       f"{', '.join(c.name for c in failed)}", err=True)
        else:
            typer.echo(f"{LOG_PREFIX} verify-deployment: all {len(checks)} checks passed")
    raise typer.Exit(1 if failed else 0)


CHECK_NAMES = (
    "api_reachable",
    "deployment_exists",
    "schedule_hourly",
    "schedule_active",
    "deployment_not_paused",
    "concurrency_limit_1",
    "collision_strategy_cancel_new",
    "work_pool",
    "worker_polling",
    "health_deployment_daily",
)


async def collect_checks(
    *, deployment: str, health_deployment: str, work_pool: str, max_worker_silence: float | None
) -> list[Check]:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    checks: list[Check] = []

    def add(name: str, ok: bool, detail: str) -> None:
        checks.append(Check(name, bool(ok), detail))

    def skipped(reason: str) -> list[Check]:
        done = {c.name for c in checks}
        return checks + [Check(n, False, f"not checked: {reason}") for n in CHECK_NAMES if n not in done]

    api_url = PREFECT_API_URL.value()
    if not api_url:
        add("api_reachable", False, "PREFECT_API_URL is not set (point it at the Prefect server, e.g. http://host:4200/api)")
        return skipped("no API")
    async with get_client() as client:
        try:
            error = await asyncio.wait_for(client.api_healthcheck(), timeout=15)
        except Exception as exc:  # timeouts included
            error = exc
        if error is not None:
            add("api_reachable", False, f"{api_url}: {type(error).__name__}: {error}")
            return skipped("API unreachable")
        add("api_reachable", True, str(api_url))

        try:
            dep = await client.read_deployment_by_name(deployment)
        except ObjectNotFound:
            add("deployment_exists", False, f"no deployment {deployment!r} (run `prefect deploy --all` in the project)")
            dep = None
        if dep is not None:
            add("deployment_exists", True, f"{deployment} (id {dep.id})")
            crons = [
                (s, getattr(s.schedule, "cron", None), getattr(s.schedule, "timezone", None)) for s in dep.schedules
            ]
            hourly = [(s, tz) for s, cron, tz in crons if cron == HOURLY_CRON and (tz or "UTC") in ("UTC", "Etc/UTC")]
            add("schedule_hourly", bool(hourly),
                f"cron {HOURLY_CRON!r} UTC" if hourly else f"schedules found: {_describe(crons) or 'none'}")
            add("schedule_active", any(s.active for s, _ in hourly),
                "active" if any(s.active for s, _ in hourly) else "the hourly schedule is missing or inactive")
            add("deployment_not_paused", not dep.paused, "paused" if dep.paused else "not paused")
            gcl = dep.global_concurrency_limit
            limit = getattr(gcl, "limit", None) if gcl is not None else dep.concurrency_limit
            add("concurrency_limit_1", limit == 1, f"limit {limit}")
            strategy = getattr(dep.concurrency_options, "collision_strategy", None)
            strategy = getattr(strategy, "value", strategy)
            add("collision_strategy_cancel_new", strategy == "CANCEL_NEW", f"collision strategy {strategy}")
            pool_name = dep.work_pool_name
            if pool_name != work_pool:
                add("work_pool", False, f"deployment uses pool {pool_name!r}, expected {work_pool!r}")
            else:
                try:
                    pool = await client.read_work_pool(work_pool)
                    add("work_pool", not pool.is_paused,
                        f"{pool.name} ({pool.type})" + (" is PAUSED" if pool.is_paused else ""))
                except ObjectNotFound:
                    add("work_pool", False, f"work pool {work_pool!r} does not exist")
        add_worker = await _worker_check(client, work_pool, max_worker_silence)
        checks.append(add_worker)

        try:
            daily = await client.read_deployment_by_name(health_deployment)
            daily_crons = [(s, getattr(s.schedule, "cron", None), getattr(s.schedule, "timezone", None))
                           for s in daily.schedules]
            good = any(cron == DAILY_CRON and s.active and (tz or "UTC") in ("UTC", "Etc/UTC")
                       for s, cron, tz in daily_crons)
            add("health_deployment_daily", good and not daily.paused,
                f"{health_deployment}: " + (f"active cron {DAILY_CRON!r} UTC" if good else _describe(daily_crons) or "no schedule")
                + (" (PAUSED)" if daily.paused else ""))
        except ObjectNotFound:
            add("health_deployment_daily", False, f"no deployment {health_deployment!r}")
    return skipped("an earlier check failed")


async def _worker_check(client: Any, work_pool: str, max_silence: float | None) -> Check:
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    try:
        workers = await client.read_workers_for_work_pool(work_pool)
    except (ObjectNotFound, PrefectHTTPStatusError) as exc:
        if isinstance(exc, PrefectHTTPStatusError) and exc.response.status_code != 404:
            return Check("worker_polling", False, f"cannot list the workers of {work_pool!r}: {exc}")
        return Check("worker_polling", False, f"work pool {work_pool!r} does not exist, so no worker polls it")
    now = datetime.now(UTC)
    fresh, stale = [], []
    for worker in workers:
        silence = max_silence or 3 * (worker.heartbeat_interval_seconds or DEFAULT_WORKER_SILENCE / 3)
        beat = worker.last_heartbeat_time
        age = (now - beat).total_seconds() if beat else None
        (fresh if age is not None and age <= silence else stale).append(
            f"{worker.name} ({'never' if age is None else f'{age:.0f} s ago'})"
        )
    if fresh:
        return Check("worker_polling", True, f"polled recently: {', '.join(fresh)}")
    detail = f"no worker polled pool {work_pool!r} recently"
    if stale:
        detail += f"; last seen: {', '.join(stale)}"
    return Check("worker_polling", False, detail + f" (start one: prefect worker start --pool {work_pool})")


def _describe(crons: list[tuple[Any, Any, Any]]) -> str:
    return ", ".join(f"{cron or type(s.schedule).__name__} {tz or ''} {'active' if s.active else 'inactive'}".strip()
                     for s, cron, tz in crons)
