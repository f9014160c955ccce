"""`bench/sync_benchmark.py --quick`: the benchmark runs end to end and its call counts are the formula's.

Counts only, never timing: the machine running the tests is shared and noisy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_quick_benchmark_counts_match_the_formulas(tmp_path: Path, prefect_harness: None) -> None:
    from prefect.settings import PREFECT_API_URL

    out = tmp_path / "figures.json"
    env = dict(os.environ, PREFECT_API_URL=PREFECT_API_URL.value())  # the session's API: no second server
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sync_benchmark.py"), "--quick", "--json", str(out),
         "--out", str(tmp_path / "results")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=540,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    runs = figures["runs"]
    assert {"reference", "baseline"} <= set(runs)

    for name, run in runs.items():
        assert run["unrecovered_429s"] == 0, name
        assert run["client_calls"] == run["calls"], name  # the client and the simulator agree
        # A 429 (scheduling jitter on a busy machine) adds its retried request; nothing else may differ.
        answered = run["calls"] - run["rate_limited_429s"]
        assert answered == sum(run["expected_calls_by_endpoint"].values()), (name, run["calls_by_endpoint"])
        for endpoint, expected in run["expected_calls_by_endpoint"].items():
            assert run["calls_by_endpoint"].get(endpoint, 0) >= expected, (name, endpoint)
        if run["rate_limited_429s"] == 0:
            assert run["calls_by_endpoint"] == run["expected_calls_by_endpoint"], name

    # The sync's calls against HubSpot's floor, ceil(C/200) + ceil(D/200) + ceil(A/100): the scans
    # are exactly the floor's pages, and the write-back adds one batch_read per 100 partners.
    for name in [n for n, run in runs.items() if run["design"] == "sync"]:
        run, floor = runs[name], runs[name]["minimum"]
        otype = next(key.split(":", 1)[1] for key in run["expected_calls_by_endpoint"] if key.startswith("batch_"))
        expected = {
            "search:contacts": floor["search_contacts_pages"],
            "search:deals": floor["search_deals_pages"],
            f"batch_read:{otype}": floor["batch_writes"],
            f"batch_update:{otype}": floor["batch_writes"],
        }
        assert run["expected_calls_by_endpoint"] == expected, name
        assert sum(expected.values()) == floor["total"] + floor["batch_writes"]

    # The seed baseline: a search of each kind per partner (at least), one PATCH per linked partner.
    baseline = runs["baseline"]
    partners = baseline["dataset"]["partners"]["active"]
    assert baseline["expected_calls_by_endpoint"]["search:contacts"] >= partners
    assert baseline["expected_calls_by_endpoint"]["search:deals"] >= partners

    rows = figures["scaling"]
    assert {row["basis"] for row in rows} >= {"measured"}
    assert any(row["basis"].startswith("extrapolated") for row in rows)
    assert (tmp_path / "results" / "scaling.png").stat().st_size > 0
    assert (tmp_path / "results" / "scaling.csv").read_text(encoding="utf-8").startswith("design,partners")
