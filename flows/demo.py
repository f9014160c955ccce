"""`affiliate-sync demo`: the real flow against the bundled HubSpot simulator, no account needed."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from affiliate_sync.cache import read_cache
from affiliate_sync.hubspot import HubSpotClient
from affiliate_sync.maintenance import add_level_option
from affiliate_sync.simulator import CUSTOM_WON_STAGE_ID, SimulatorServer, generate, write_registry

DEMO_TOKEN = "demo-token-not-a-secret"


def demo_environment(directory: Path, simulator: SimulatorServer) -> dict[str, str]:
    """The §7 variables that point a run at the simulator and the demo's own files."""
    return {
        "HUBSPOT_API_TOKEN": DEMO_TOKEN,
        "HUBSPOT_BASE_URL": simulator.url,
        "HUBSPOT_WON_STAGES": f"closedwon,{CUSTOM_WON_STAGE_ID}",
        "AFFILIATE_REGISTRY_PATH": str(directory / "affiliate_partners.json"),
        "AFFILIATE_CACHE_PATH": str(directory / "affiliate_hubspot_cache.json"),
        "AFFILIATE_COOLDOWN_SECONDS": "0",
    }


def run_demo(directory: Path, *, partners: int, seed: int) -> dict[str, Any]:
    """Generate a programme, serve it, run the sync flow on Prefect's embedded API, return the cache."""
    directory.mkdir(parents=True, exist_ok=True)
    # A private Prefect home keeps the demo on the embedded API, whatever profile the user has.
    os.environ["PREFECT_HOME"] = str(directory / ".prefect")
    os.environ.pop("PREFECT_API_URL", None)
    # A fresh embedded API migrates its database on first start; on a busy 2-core machine
    # that can take longer than Prefect's 20 s default.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    dataset = generate(
        seed=seed, n_active=partners, n_inactive=max(1, partners // 10), n_pending=max(1, partners // 20),
        contacts_attributed=partners * 20, contacts_unattributed=partners * 5, deals=partners * 5,
    )
    with SimulatorServer(token=DEMO_TOKEN, dataset=dataset) as simulator:
        os.environ.update(demo_environment(directory, simulator))
        write_registry(directory / "affiliate_partners.json", dataset)
        # Like a real portal, the simulator's `level` property starts without `beginner`:
        # the demo does the one-off maintenance step an operator does at install time.
        with HubSpotClient(DEMO_TOKEN, simulator.url) as client:
            add_level_option(client, dataset.partner_object_type, dry_run=False)
        from flows.sync import affiliate_hubspot_sync

        state = affiliate_hubspot_sync(force=True, return_state=True)
        state.result()  # raises the run's error, if any
    return read_cache(directory / "affiliate_hubspot_cache.json")


def describe(cache: dict[str, Any], cache_path: Path) -> list[str]:
    """A short summary of what the dashboards would now show."""
    summaries = cache["mrr_summary"]
    levels = Counter(p["level"] for p in cache["partners"].values())
    top = sorted(summaries.items(), key=lambda item: item[1]["total_mrr"], reverse=True)[:5]
    lines = [
        f"Cache written: {cache_path}",
        f"Last sync: {cache['last_sync']}",
        f"Active partners: {len(cache['partners'])}; leads: {sum(map(len, cache['leads'].values()))}; "
        f"deals: {sum(map(len, cache['deals'].values()))}",
        "Levels: " + ", ".join(f"{level} {levels.get(level, 0)}" for level in ("beginner", "starter", "partner", "pro")),
        f"Total MRR share: {sum(s['total_mrr'] for s in summaries.values()):,.2f} EUR "
        f"(active {sum(s['active_mrr'] for s in summaries.values()):,.2f}, "
        f"paused {sum(s['paused_mrr'] for s in summaries.values()):,.2f})",
        "Top partners by MRR share:",
    ]
    lines += [
        f"  {pid}  {cache['partners'][pid]['name'][:28]:<28} {s['level']:<8} {s['total_mrr']:>10,.2f} EUR  {s['total_deals']} won deals"
        for pid, s in top
    ]
    return lines
