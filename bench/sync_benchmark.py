"""`make bench`: the sync against HubSpot's rate limits, side by side with the seed's design.

    .venv/bin/python bench/sync_benchmark.py            # everything (about 10 minutes)
    .venv/bin/python bench/sync_benchmark.py --quick    # a small version, for the smoke test
    .venv/bin/python bench/sync_benchmark.py --profile  # also a pyinstrument profile of the flow

Each run is served by the project's HubSpot simulator on 127.0.0.1 with HubSpot's published
limits (search 5/s without headers, 190 per 10 s elsewhere) and measured in its own process
(bench/worker.py). Printed per run: API calls by endpoint (the simulator's count of requests it
received, 429s included; cross-checked with the client's own count), the theoretical minimum
(bench/loads.py), 429s, wall time, pure compute time and peak RSS (VmHWM of the run's process).
The scaling series goes to <out>/scaling.md, .csv and .png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path[:0] = [str(ROOT), str(BENCH)]

from affiliate_sync.hubspot.client import SEARCH_SAFETY_MARGIN  # noqa: E402

WORKER = BENCH / "worker.py"
RUN_TIMEOUT_SECONDS = 3_600  # no single run may hang the benchmark

# Targets of issue 5.
MAX_CALLS_OVER_MINIMUM = 1.10
MAX_WALL_SECONDS = 35.0
MIN_SPEEDUP = 30.0
MAX_COMPUTE_SECONDS = 1.0
MAX_RSS_MB = 400.0
MAX_LINEAR_SPREAD = 1.15

PARTS = ("reference", "big", "baseline", "scaling")


class Plan:
    """Which programmes to run: the full benchmark or its quick smoke version."""

    def __init__(self, quick: bool) -> None:
        from loads import Load

        self.quick = quick
        if quick:
            self.reference = Load("quick (20 partners)", 20)
            self.big: Load | None = None
            self.baseline = Load("seed baseline (10 partners)", 10)
            self.scaling = (10, 20)
        else:
            self.reference = Load("reference load", 1_000)
            self.big = Load("big variant (one partner > 10,000 contacts)", 1_000, big=True)
            self.baseline = Load("seed baseline (100 partners)", 100)
            self.scaling = (100, 1_000, 5_000)


# --------------------------------------------------------------------------- serving


def start_prefect_api(workdir: Path) -> tuple[str, Any]:
    """A Prefect API for every run's process: the one in PREFECT_API_URL, else a private one."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"], None
    os.environ["PREFECT_HOME"] = str(workdir / ".prefect")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # binds 127.0.0.1
    server.start(timeout=180)
    return server.api_url, server


@contextlib.contextmanager
def serve(dataset: Any, directory: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    """The dataset on a simulator with HubSpot's limits, its registry file, and the run's variables."""
    from affiliate_sync.hubspot import HubSpotClient
    from affiliate_sync.maintenance import add_level_option
    from affiliate_sync.simulator import SimulatorServer, write_registry
    from flows.demo import DEMO_TOKEN, demo_environment

    directory.mkdir(parents=True, exist_ok=True)
    with SimulatorServer(token=DEMO_TOKEN, dataset=dataset) as simulator:
        environment = demo_environment(directory, simulator)
        write_registry(directory / "affiliate_partners.json", dataset)
        # The one-off install step (see flows/demo.py): without `beginner`, the write-back fails.
        with HubSpotClient(DEMO_TOKEN, simulator.url) as client:
            add_level_option(client, dataset.partner_object_type, dry_run=False)
        # Zero counters and empty rate-limit windows; data and the property change stay.
        simulator.app.reset(data=False, config=False)
        yield simulator, environment


class ServiceClock:
    """How long the simulator's handler takes per CRM search (it runs in this process).

    Separates HubSpot-side time from the sync's own: a page that takes the server longer
    than the 1.1 s / 5 the client's pacing allows makes a sequential scan latency-bound.
    """

    def __init__(self, simulator: Any) -> None:
        self.search_seconds: list[float] = []
        handle = simulator.app.handle

        def timed(method: str, path: str, *rest: Any) -> Any:
            started = time.perf_counter()
            outcome = handle(method, path, *rest)
            if path.endswith("/search"):
                self.search_seconds.append(time.perf_counter() - started)
            return outcome

        simulator.app.handle = timed  # the HTTP handler looks it up on the instance per request

    def figures(self) -> dict[str, float]:
        times = sorted(self.search_seconds)
        if not times:
            return {}
        return {
            "simulator_search_seconds": round(sum(times), 2),
            "simulator_search_median_ms": round(1000 * times[len(times) // 2], 1),
            "simulator_search_max_ms": round(1000 * times[-1], 1),
        }


def search_pacing_floor(search_calls: int) -> float:
    """Seconds the client's search pacing alone imposes: 5 requests per 1.1 s (5/s plus its
    10 % safety margin, affiliate_sync/hubspot/client.py), the first 5 at once."""
    per_window = 5
    window = 1.0 * (1 + SEARCH_SAFETY_MARGIN)
    return max(0, search_calls - per_window) / per_window * window


def run_worker(kind: str, environment: dict[str, str], directory: Path, api_url: str,
               profile: Path | None = None) -> dict[str, Any]:
    result = directory / f"{kind}-result.json"
    log = directory / f"{kind}.log"
    command = [sys.executable, str(WORKER), kind, str(result)]
    if profile is not None:
        command += ["--profile", str(profile)]
    env = {**os.environ, **environment, "PREFECT_API_URL": api_url}
    with log.open("w", encoding="utf-8") as stream:
        done = subprocess.run(command, env=env, stdout=stream, stderr=subprocess.STDOUT,
                              timeout=RUN_TIMEOUT_SECONDS, check=False, cwd=ROOT)
    if done.returncode != 0 or not result.exists():
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:])
        raise RuntimeError(f"bench worker {kind!r} failed (exit {done.returncode}); log {log}:\n{tail}")
    return json.loads(result.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- runs


def measure(load: Any, design: str, workdir: Path, api_url: str, *, compute: bool = False,
            profile: Path | None = None) -> dict[str, Any]:
    """One run of `design` ("sync" or "seed baseline") on `load`, with its expected and minimum calls."""
    from loads import expected_baseline_calls, expected_sync_calls, simulator_calls, theoretical_minimum

    generated = time.perf_counter()
    dataset = load.dataset()
    generated = time.perf_counter() - generated
    directory = workdir / f"{design.replace(' ', '-')}-{load.partners}{'-big' if load.big else ''}"
    minimum = theoretical_minimum(dataset)
    expected = expected_sync_calls(dataset) if design == "sync" else expected_baseline_calls(dataset)
    with serve(dataset, directory) as (simulator, environment):
        clock = ServiceClock(simulator)
        figures = run_worker("sync" if design == "sync" else "baseline", environment, directory, api_url, profile)
        snapshot = simulator.stats.snapshot()
        figures.update(clock.figures())
        if compute:
            simulator.set_rate_limits(False)
            figures["compute"] = run_worker("compute", environment, directory, api_url)
            simulator.set_rate_limits(True)
    calls = simulator_calls(snapshot)
    total = sum(calls.values())
    search_calls = sum(n for endpoint, n in calls.items() if endpoint.startswith("search:"))
    summary = dataset.summary()
    return {
        "name": load.name,
        "design": design,
        "partners": load.partners,
        "big": load.big,
        "basis": "measured",
        "records": minimum["contacts_attributed_all"] + minimum["deals_attributed"],
        "dataset": summary,
        "generate_seconds": round(generated, 1),
        "calls_by_endpoint": calls,
        "calls": total,
        "expected_calls_by_endpoint": expected,
        "baseline_calls_from_data": sum(expected_baseline_calls(dataset).values()),
        "minimum": minimum,
        "calls_over_minimum": round(total / minimum["total"], 3),
        "rate_limited_429s": snapshot["rate_limited"],
        "rate_limited_by_policy": snapshot["rate_limited_by_policy"],
        "unrecovered_429s": 0 if figures["ok"] else None,  # a run that gave up on a 429 fails
        "search_pacing_floor_seconds": round(search_pacing_floor(search_calls), 1),
        **figures,
        "load": _load_average(),
    }


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def scaling_rows(plan: Plan, done: dict[str, dict[str, Any]], workdir: Path, api_url: str) -> list[dict[str, Any]]:
    """Measured sync rows at every size; the baseline measured at one size and extrapolated to the others."""
    from loads import Load

    from scaling import extrapolate

    rows: list[dict[str, Any]] = []
    baseline = _row(done["baseline"])
    for partners in plan.scaling:
        if partners == plan.reference.partners:
            run = done["reference"]
        else:
            print(f"\n… scaling: sync at {partners:,} partners", flush=True)
            run = done[f"scaling-{partners}"] = measure(Load(f"scaling {partners:,}", partners), "sync", workdir, api_url)
        rows.append(_row(run))
        if partners == baseline["partners"]:
            rows.append(baseline)
        else:
            rows.append(extrapolate(baseline, partners, run["records"], run["baseline_calls_from_data"]))
    return rows


def _row(run: dict[str, Any]) -> dict[str, Any]:
    return {
        "design": run["design"],
        "partners": run["partners"],
        "records": run["records"],
        "basis": "measured",
        "calls": run["calls"],
        "calls_from_data": run["baseline_calls_from_data"] if run["design"] == "seed baseline" else None,
        "minimum_calls": run["minimum"]["total"],
        "calls_per_1k_records": round(1000 * run["calls"] / run["records"], 2),
        "wall_seconds": round(run["wall_seconds"], 1),
        "search_pacing_floor_seconds": run["search_pacing_floor_seconds"],
        "simulator_search_seconds": run.get("simulator_search_seconds"),
        "rate_limited_429s": run["rate_limited_429s"],
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
    }


# --------------------------------------------------------------------------- reporting


def describe(run: dict[str, Any]) -> list[str]:
    minimum = run["minimum"]
    lines = [
        f"== {run['name']}: {run['design']} ==",
        f"data: {run['dataset']['partners']} partners; {minimum['contacts_attributed_all']:,} contacts and "
        f"{minimum['deals_attributed']:,} deals with an affiliate_partner_id; "
        f"{run['dataset']['contacts_unattributed']:,} contacts without",
        "API calls by endpoint (simulator's count; expected from the data in brackets):",
    ]
    for endpoint in sorted(set(run["calls_by_endpoint"]) | set(run["expected_calls_by_endpoint"])):
        lines.append(f"  {endpoint:<28} {run['calls_by_endpoint'].get(endpoint, 0):>6,}   "
                     f"[{run['expected_calls_by_endpoint'].get(endpoint, 0):,}]")
    lines += [
        f"  {'total':<28} {run['calls']:>6,}   (client counted {run['client_calls']:,})",
        f"theoretical minimum: ceil({minimum['contacts_attributed_all']:,}/200) + ceil({minimum['deals_attributed']:,}/200)"
        f" + ceil({minimum['active_partners']:,}/100) = {minimum['search_contacts_pages']} + "
        f"{minimum['search_deals_pages']} + {minimum['batch_writes']} = {minimum['total']}; "
        f"calls / minimum = {run['calls_over_minimum']:.3f}",
        f"429s received: {run['rate_limited_429s']} (client saw {run['client_429s']}); unrecovered: "
        f"{run['unrecovered_429s']}",
        f"wall: {run['wall_seconds']:.1f} s"
        + (f" (flow call; the sync itself {run['sync_seconds']:.1f} s)" if "sync_seconds" in run else "")
        + (f", of which {run['slept_seconds']:.0f} s the seed's sleeps" if "slept_seconds" in run else ""),
        f"search pacing floor for {sum(n for e, n in run['calls_by_endpoint'].items() if e.startswith('search:'))} "
        f"searches: {run['search_pacing_floor_seconds']:.1f} s; simulator's own time answering them: "
        f"{run.get('simulator_search_seconds', 0):.1f} s (median {run.get('simulator_search_median_ms', 0):.0f} ms, "
        f"max {run.get('simulator_search_max_ms', 0):.0f} ms a page)",
        f"peak RSS of the run's process: {run['peak_rss_mb']:.0f} MB (VmHWM; "
        f"{run['rss_after_imports_mb']:.0f} MB after imports)",
    ]
    if "compute" in run:
        compute = run["compute"]
        best = compute["best"]
        lines.append(
            f"pure compute on the {compute['records']:,} fetched records (best of {compute['repeats']}): "
            f"{best['compute_seconds']:.3f} s = registry {best['registry_seconds']:.3f} + attribution "
            f"{best['attribution_seconds']:.3f} + MRR/levels {best['mrr_levels_seconds']:.3f} "
            f"(worst {compute['worst_compute_seconds']:.3f} s); cache build {best['cache_build_seconds']:.3f} s, "
            f"write {best['cache_write_seconds']:.3f} s; peak RSS {compute['peak_rss_mb']:.0f} MB"
        )
    lines.append(f"load average at the end: {run['load']}")
    return lines


def check_targets(done: dict[str, dict[str, Any]], baseline_extrapolated: dict[str, Any],
                  rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    reference = done["reference"]
    speedup = baseline_extrapolated["wall_seconds"] / reference["wall_seconds"]
    compute = reference["compute"]["best"]["compute_seconds"]
    targets = [
        ("calls ≤ 1.1 × minimum (reference)", f"{reference['calls']} / {reference['minimum']['total']} = "
         f"{reference['calls_over_minimum']:.3f}", reference["calls_over_minimum"] <= MAX_CALLS_OVER_MINIMUM),
        ("wall ≤ 35 s (reference)", f"{reference['wall_seconds']:.1f} s", reference["wall_seconds"] <= MAX_WALL_SECONDS),
        ("≥ 30× faster than the seed baseline (extrapolated)",
         f"{baseline_extrapolated['wall_seconds']:.0f} s / {reference['wall_seconds']:.1f} s = {speedup:.1f}×",
         speedup >= MIN_SPEEDUP),
        ("0 unrecovered 429s", str(sum((run["unrecovered_429s"] or 0) for run in done.values())),
         all(run["unrecovered_429s"] == 0 for run in done.values())),
        ("few 429s received (sync runs)", ", ".join(
            f"{key} {run['rate_limited_429s']}" for key, run in done.items() if run["design"] == "sync"),
         all(run["rate_limited_429s"] <= 2 for run in done.values() if run["design"] == "sync")),
        (f"compute for {reference['compute']['records']:,} records < 1 s", f"{compute:.3f} s",
         compute < MAX_COMPUTE_SECONDS),
        ("peak RSS < 400 MB (reference and big loads)", ", ".join(
            f"{key} {done[key]['peak_rss_mb']:.0f} MB" for key in ("reference", "big") if key in done),
         all(done[key]["peak_rss_mb"] < MAX_RSS_MB for key in ("reference", "big") if key in done)),
    ]
    targets += _linearity(rows)
    return [{"target": name, "measured": measured, "met": bool(met)} for name, measured, met in targets]


def _linearity(rows: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """Calls per record flat across sizes, and wall time per added record not growing with size."""
    sync = sorted((r for r in rows if r["design"] == "sync" and r["basis"] == "measured"), key=lambda r: r["records"])
    if len(sync) < 2:
        return []
    per_record = [r["calls_per_1k_records"] for r in sync]
    checks = [(
        "calls linear in records (calls per 1,000 records within ±15 % across sizes)",
        " / ".join(f"{r['partners']:,}: {r['calls_per_1k_records']:.2f}" for r in sync),
        max(per_record) <= MAX_LINEAR_SPREAD * min(per_record),
    )]
    if len(sync) >= 3:
        slopes = [
            (b["wall_seconds"] - a["wall_seconds"]) / ((b["records"] - a["records"]) / 1000)
            for a, b in zip(sync, sync[1:], strict=False)
        ]
        checks.append((
            "wall linear in records (seconds per 1,000 added records does not grow by more than 25 %)",
            " then ".join(f"{slope:.2f} s" for slope in slopes),
            all(later <= 1.25 * earlier for earlier, later in zip(slopes, slopes[1:], strict=False)),
        ))
    return checks


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the sync against HubSpot's limits (issue 5).")
    parser.add_argument("--quick", action="store_true", help="a small version of every run (smoke test)")
    parser.add_argument("--out", type=Path, help="where to write scaling.md/.csv/.png and results.json "
                        "(default bench/results, or a temporary directory with --quick)")
    parser.add_argument("--json", type=Path, help="also write every figure as JSON here")
    parser.add_argument("--profile", action="store_true", help="profile one extra sync of the reference load "
                        "with pyinstrument (written to <out>/profile_reference.txt)")
    parser.add_argument("--only", action="append", choices=PARTS, help="run only these parts (repeatable); "
                        "targets are checked when reference and baseline both ran")
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs, caches)")
    args = parser.parse_args(argv)

    plan = Plan(args.quick)
    workdir = Path(tempfile.mkdtemp(prefix="affiliate-bench-"))
    out = args.out or (workdir / "results" if args.quick else BENCH / "results")
    started = time.perf_counter()
    api_url, server = start_prefect_api(workdir)
    print(f"Benchmark ({'quick' if args.quick else 'full'}) on {platform.node()}: {os.cpu_count()} CPUs, "
          f"load {_load_average()}, Python {platform.python_version()}; work in {workdir}", flush=True)
    done: dict[str, dict[str, Any]] = {}
    try:
        from scaling import extrapolate, write_plot, write_table

        parts = set(args.only or PARTS)
        if parts & {"reference", "scaling"} or args.profile:
            print(f"\n… {plan.reference.name}", flush=True)
            done["reference"] = measure(plan.reference, "sync", workdir, api_url, compute=True)
            print("\n".join(describe(done["reference"])), flush=True)
        if plan.big is not None and "big" in parts:
            print(f"\n… {plan.big.name}", flush=True)
            done["big"] = measure(plan.big, "sync", workdir, api_url, compute=True)
            print("\n".join(describe(done["big"])), flush=True)
        baseline_at_target = None
        if parts & {"baseline", "scaling"}:
            print(f"\n… {plan.baseline.name}", flush=True)
            done["baseline"] = measure(plan.baseline, "seed baseline", workdir, api_url)
            print("\n".join(describe(done["baseline"])), flush=True)
        if "baseline" in done and "reference" in done:
            baseline_at_target = extrapolate(
                _row(done["baseline"]), plan.reference.partners, done["reference"]["records"],
                done["reference"]["baseline_calls_from_data"],
            )
            print(f"\nseed baseline EXTRAPOLATED to {plan.reference.partners:,} partners (linear, ×"
                  f"{plan.reference.partners / plan.baseline.partners:g} from the {plan.baseline.partners} measured): "
                  f"{baseline_at_target['calls']:,} calls ({baseline_at_target['calls_from_data']:,} counted from "
                  f"the data), {baseline_at_target['wall_seconds']:,.0f} s wall", flush=True)

        if args.profile:
            print("\n… profiling one more sync of the reference load (pyinstrument)", flush=True)
            out.mkdir(parents=True, exist_ok=True)
            profiled = measure(plan.reference, "sync", workdir / "profile", api_url,
                               profile=out / "profile_reference.txt")
            print(f"profiled run: {profiled['wall_seconds']:.1f} s wall (profiler overhead included); "
                  f"profile in {out / 'profile_reference.txt'}", flush=True)

        rows: list[dict[str, Any]] = []
        if "scaling" in parts:
            rows = scaling_rows(plan, done, workdir, api_url)
            md, csv_path = write_table(rows, out)
            png = write_plot(rows, out / "scaling.png", baseline_partners=plan.baseline.partners)
            print(f"\nScaling series ({md}, {csv_path.name}, {png.name}):")
            print(md.read_text(encoding="utf-8"))

        targets = check_targets(done, baseline_at_target, rows) if baseline_at_target else []
        if targets:
            scale = " (quick mode: small loads, so the targets are informative only)" if args.quick else ""
            print(f"Targets{scale}:")
        for target in targets:
            print(f"  [{'met' if target['met'] else 'MISSED'}] {target['target']}: {target['measured']}")
        results = {
            "quick": args.quick,
            "machine": {"cpus": os.cpu_count(), "load_at_end": _load_average(), "python": platform.python_version()},
            "runs": done,
            "baseline_extrapolated": baseline_at_target,
            "scaling": rows,
            "targets": targets,
            "bench_seconds": round(time.perf_counter() - started, 1),
        }
        written = [args.json] if args.json else []
        if parts == set(PARTS):  # a partial run never replaces the full run's figures
            written.append(out / "results.json")
        for path in written:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
        print(f"\nDone in {results['bench_seconds']:.0f} s; figures in {', '.join(map(str, written)) or '(not written)'}")
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
