"""One measured run in a fresh process: `python bench/worker.py <kind> <result.json> [--profile FILE]`.

The benchmark (bench/sync_benchmark.py) serves the data from its own process and starts one
worker per run, with the §7 variables of `flows.demo.demo_environment` in its environment,
so each run's peak RSS is that run's alone:
the sync, its imports and the records it holds, not the simulator's copy of HubSpot
(measured as the process's VmHWM; see `peak_rss_mb`).

kinds:
  sync      the project's flow `affiliate_hubspot_sync` end to end on Prefect's API
  baseline  the seed's per-partner strategy (bench/seed_baseline.py), without Prefect
  compute   scan the records once (the benchmark turns the simulator's rate limits off
            for this), then time registry load + attribution + MRR/levels in-process
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

COMPUTE_REPEATS = 3


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB: `VmHWM` of /proc/self/status.

    Not `getrusage(RUSAGE_SELF).ru_maxrss`: Linux carries that high-water mark across
    `execve`, so a worker started by a benchmark holding the simulator's data would report the
    benchmark's size, not its own. Elsewhere ru_maxrss is the fallback (KiB on Linux, bytes on macOS).
    """
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def run_sync(profile: Path | None) -> dict[str, Any]:
    from prefect.client.orchestration import get_client

    from flows.sync import affiliate_hubspot_sync

    with get_client(sync_client=True) as prefect_api:  # connect before the clock starts
        prefect_api.api_healthcheck()
    rss_before = peak_rss_mb()
    profiler = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    started = time.perf_counter()
    state = affiliate_hubspot_sync(force=True, return_state=True)
    wall = time.perf_counter() - started
    if profiler is not None:
        profiler.stop()
        profile.write_text(profiler.output_text(unicode=True, color=False, show_all=False), encoding="utf-8")
        profiler.last_session.save(str(profile.with_suffix(".pyisession")))  # re-render: `pyinstrument --load`
    report = state.result()  # raises the run's error: a failed run is a failed benchmark
    return _figures(
        state.is_completed(), wall, report.api_calls, report.rate_limited_429s, report, rss_before,
        sync_seconds=report.duration_seconds,
    )


def run_baseline() -> dict[str, Any]:
    from affiliate_sync.hubspot import HubSpotClient
    from affiliate_sync.settings import load_settings
    from seed_baseline import run_seed_baseline

    settings = load_settings()
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    with HubSpotClient.from_settings(settings) as client:
        result = run_seed_baseline(client, settings)
    wall = time.perf_counter() - started
    return _figures(
        True, wall, client.stats.total_calls, client.stats.total_rate_limited, result, rss_before,
        client_calls_by_endpoint=dict(client.stats.calls), slept_seconds=result.slept_seconds,
    )


def _figures(ok: bool, wall: float, calls: int, rate_limited: int, done: Any, rss_before: float,
             **extra: Any) -> dict[str, Any]:
    """A sync or baseline run's figures; `done` has partners, leads and deals counts."""
    return {
        "ok": ok, "wall_seconds": wall, "client_calls": calls, "client_429s": rate_limited,
        "partners": done.partners, "leads": done.leads, "deals": done.deals,
        "peak_rss_mb": peak_rss_mb(), "rss_after_imports_mb": rss_before, **extra,
    }


def run_compute() -> dict[str, Any]:
    from affiliate_sync.attribution import attribute
    from affiliate_sync.cache import build_cache, write_cache
    from affiliate_sync.hubspot import HubSpotClient
    from affiliate_sync.money import compute_mrr
    from affiliate_sync.registry import load_registry
    from affiliate_sync.settings import CONTACT_PROPERTIES, DEAL_PROPERTIES, load_settings

    settings = load_settings()
    # The simulator's limits are off for this fetch: only the compute after it is timed.
    with HubSpotClient.from_settings(settings, search_per_second=1_000, burst_limit=100_000) as client:
        contacts = client.scan_attributed("contacts", properties=CONTACT_PROPERTIES)
        deals = client.scan_attributed("deals", properties=DEAL_PROPERTIES)
    rss_before = peak_rss_mb()
    now = datetime.now(UTC)
    runs = []
    for _ in range(COMPUTE_REPEATS):
        t0 = time.perf_counter()
        registry = load_registry(settings.affiliate_registry_path)
        active_ids = [p.partner_id for p in registry.active]
        known_ids = [p.partner_id for p in registry.partners]
        t1 = time.perf_counter()
        leads = attribute(contacts, active_ids, known_ids)
        deal_groups = attribute(deals, active_ids, known_ids)
        t2 = time.perf_counter()
        mrr = compute_mrr(deal_groups.by_partner, active_ids, won_stages=settings.hubspot_won_stages,
                          policy=settings.affiliate_levels, today=now.date())
        t3 = time.perf_counter()
        cache = build_cache(partners=registry.active, leads=leads.by_partner, deals=deal_groups.by_partner,
                            mrr=mrr, synced_at=now)
        t4 = time.perf_counter()
        write_cache(settings.affiliate_cache_path.with_name("compute-check-cache.json"), cache)
        t5 = time.perf_counter()
        runs.append({
            "registry_seconds": t1 - t0, "attribution_seconds": t2 - t1, "mrr_levels_seconds": t3 - t2,
            "compute_seconds": t3 - t0, "cache_build_seconds": t4 - t3, "cache_write_seconds": t5 - t4,
        })
    best = min(runs, key=lambda run: run["compute_seconds"])
    return {
        "ok": True,
        "records": len(contacts) + len(deals),
        "contacts": len(contacts),
        "deals": len(deals),
        "repeats": COMPUTE_REPEATS,
        "best": best,
        "worst_compute_seconds": max(run["compute_seconds"] for run in runs),
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_fetch_mb": rss_before,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("sync", "baseline", "compute"))
    parser.add_argument("result", type=Path, help="where to write the run's figures (JSON)")
    parser.add_argument("--profile", type=Path, help="sync only: write a pyinstrument text profile here")
    args = parser.parse_args(argv)
    if args.kind == "sync":
        figures = run_sync(args.profile)
    elif args.kind == "baseline":
        figures = run_baseline()
    else:
        figures = run_compute()
    args.result.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
