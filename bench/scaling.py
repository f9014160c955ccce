"""The scaling series: table (markdown + CSV) and plot of calls and wall time against partners.

Rows come from bench/sync_benchmark.py. `search_pacing_floor_seconds` is what the client's
search pacing alone costs (5 per 1.1 s); `simulator_search_seconds` is the simulator's own
time answering those searches (HubSpot's side). A row is `measured` (a run happened) or
`extrapolated` (the seed baseline beyond the size it was run at: its calls and wall time per
partner at the measured size, times the partners; the seed's design has no batching, so both
are linear in partners by construction). `calls_from_data` is what the baseline would send,
counted from the generated data without running it (bench/loads.py).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLUMNS = (
    "design", "partners", "records", "basis", "calls", "calls_from_data", "minimum_calls",
    "calls_per_1k_records", "wall_seconds", "search_pacing_floor_seconds", "simulator_search_seconds",
    "rate_limited_429s", "peak_rss_mb",
)


def extrapolate(measured: dict[str, Any], partners: int, records: int, calls_from_data: int | None) -> dict[str, Any]:
    """A baseline row at `partners`, scaled linearly from a measured baseline row."""
    factor = partners / measured["partners"]
    calls = round(measured["calls"] * factor)
    return {
        "design": measured["design"],
        "partners": partners,
        "records": records,
        "basis": f"extrapolated ×{factor:g} from {measured['partners']}",
        "calls": calls,
        "calls_from_data": calls_from_data,
        "minimum_calls": None,
        "calls_per_1k_records": round(1000 * calls / records, 2) if records else None,
        "wall_seconds": round(measured["wall_seconds"] * factor, 1),
        "search_pacing_floor_seconds": None,
        "simulator_search_seconds": None,
        "rate_limited_429s": None,
        "peak_rss_mb": None,
    }


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_table(rows: Sequence[dict[str, Any]], directory: Path) -> tuple[Path, Path]:
    """`scaling.md` and `scaling.csv` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / "scaling.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    md_path = directory / "scaling.md"
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(_cell(row.get(column)) for column in COLUMNS) + " |" for row in rows]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return md_path, csv_path


def write_plot(rows: Sequence[dict[str, Any]], path: Path, *, baseline_partners: int) -> Path:
    """Calls and wall time against partners, both designs; extrapolated points hollow and dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for axis, metric, label in ((axes[0], "calls", "HubSpot API calls"), (axes[1], "wall_seconds", "wall time (s)")):
        for design, colour in (("sync", "tab:blue"), ("seed baseline", "tab:red")):
            points = sorted((r for r in rows if r["design"] == design), key=lambda r: r["partners"])
            if not points:
                continue
            xs = [r["partners"] for r in points]
            ys = [r[metric] for r in points]
            axis.plot(xs, ys, color=colour, linestyle="-" if design == "sync" else "--", label=design)
            for row in points:
                hollow = row["basis"] != "measured"
                axis.scatter(
                    row["partners"], row[metric], color=colour, facecolors="none" if hollow else colour, zorder=3,
                    label=f"{design} (extrapolated)" if hollow and row is points[-1] else None,
                )
        if metric == "calls":
            floor = sorted((r for r in rows if r["design"] == "sync" and r.get("minimum_calls")), key=lambda r: r["partners"])
            axis.plot([r["partners"] for r in floor], [r["minimum_calls"] for r in floor], color="grey",
                      linestyle=":", label="theoretical minimum")
        else:
            floor = sorted((r for r in rows if r["design"] == "sync" and r.get("search_pacing_floor_seconds")),
                           key=lambda r: r["partners"])
            axis.plot([r["partners"] for r in floor], [r["search_pacing_floor_seconds"] for r in floor],
                      color="grey", linestyle=":", label="search pacing floor (5 per 1.1 s)")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("active partners (records scale with them)")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle("Sync vs seed baseline on the HubSpot simulator at HubSpot's limits; baseline measured at "
                 f"{baseline_partners:,} partners, extrapolated beyond (hollow)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":  # re-draw the table and plot from a results.json: python bench/scaling.py FILE
    import json
    import sys

    source = Path(sys.argv[1])
    figures = json.loads(source.read_text(encoding="utf-8"))
    write_table(figures["scaling"], source.parent)
    write_plot(figures["scaling"], source.parent / "scaling.png",
               baseline_partners=figures["runs"]["baseline"]["partners"])
