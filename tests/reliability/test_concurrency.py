"""Concurrency: the web app writing the registry while the sync runs; two syncs started at once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from .conftest import World
from .reliability_support import HERE, ROOT, cli_env, record_figures, temp_files, without_last_sync

from affiliate_sync.cache import read_cache
from affiliate_sync.registry import RECORD_ID_FIELD, LEGACY_RECORD_ID_FIELD, load_registry
from affiliate_sync.settings import SKIP_MESSAGE

WRITER = HERE / "webapp_writer.py"
JOB_FIELDS = ("level", RECORD_ID_FIELD, LEGACY_RECORD_ID_FIELD)


def test_partners_registered_and_edited_during_a_sync_all_survive_with_the_syncs_fields(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HubSpot answers the first contacts page after 1.5 s: the web app certainly writes between
    # the sync's read of the registry and its write-back.
    monkeypatch.setenv("HUBSPOT_TIMEOUT_SECONDS", "10")
    world.sim.inject(kind="delay", delay_seconds=1.5, endpoint="search", object_type="contacts")
    scratch = world.directory.parent
    out, stop, ready = scratch / "webapp.json", scratch / "webapp.stop", scratch / "webapp.ready"
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), "--registry", str(world.registry_path), "--cache", str(world.cache_path),
         "--out", str(out), "--stop", str(stop), "--ready", str(ready)],
        cwd=ROOT, env=cli_env(), stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        started = datetime.now(UTC).timestamp()
        state = world.run_flow()
        finished = datetime.now(UTC).timestamp()
        time.sleep(0.3)  # a few more web-app writes after the sync
    finally:
        stop.touch()
        _, err = writer.communicate(timeout=60)
    world.guard.add("web app stderr", err)
    assert writer.returncode == 0, err
    assert state.is_completed(), state.message
    web = json.loads(out.read_text())
    during = [t for t in web["write_times"] if started <= t <= finished]
    assert len(during) >= 20, f"only {len(during)} web-app writes during the sync"

    final = {e["partner_id"]: e for e in json.loads(world.registry_path.read_text(encoding="utf-8"))}
    load_registry(world.registry_path)  # still valid
    # Every partner the web app registered is there, with every field it wrote.
    for partner in web["added"]:
        entry = final.get(partner["partner_id"])
        assert entry is not None, f"{partner['partner_id']} lost"
        extra_fields = {k: v for k, v in entry.items() if k not in partner}
        assert set(extra_fields) <= set(JOB_FIELDS) | {"last_login_at", "profile"}, extra_fields
        assert {k: entry[k] for k in partner if k not in JOB_FIELDS} == {k: v for k, v in partner.items() if k not in JOB_FIELDS}
    # The web app's last edit of each partner is there.
    for pid, change in web["edited"].items():
        assert {k: final[pid][k] for k in change} == change, pid
    # The sync's own fields are applied to every partner it synced.
    expected = {e["partner_id"]: e for e in json.loads(world.baseline.registry_bytes)}
    for pid, wanted in expected.items():
        assert {k: final[pid].get(k) for k in JOB_FIELDS} == {k: wanted.get(k) for k in JOB_FIELDS}, pid
    # The cache: exactly the partners active when the sync read the registry; the original ones exact.
    cache = read_cache(world.cache_path)
    baseline = without_last_sync(world.baseline.cache)
    for pid in baseline["partners"]:
        assert cache["partners"][pid] == baseline["partners"][pid]
        assert cache["leads"][pid] == baseline["leads"][pid] and cache["deals"][pid] == baseline["deals"][pid]
    newcomers = set(cache["partners"]) - set(baseline["partners"])
    assert all(final[pid]["status"] == "active" and cache["partners"][pid]["contact_count"] == 0 for pid in newcomers)
    added_active = {p["partner_id"] for p in web["added"] if p["status"] == "active"}
    assert added_active - set(cache["partners"]), "no partner was registered after the sync read the registry"
    # Readers without the lock never saw a torn registry or cache.
    assert web["torn_reads"] == {"registry": 0, "cache": 0}, web["torn_reads"]
    assert web["unlocked_reads"] > 0
    assert temp_files(world.directory) == []
    record_figures("concurrency", "web-app-writes-during-sync", {
        "web_app_writes": len(web["write_times"]), "during_the_sync": len(during), "partners_added": len(web["added"]),
        "partners_edited": len(web["edited"]), "lost": 0, "unlocked_reads": web["unlocked_reads"],
        "torn_reads": web["torn_reads"], "sync_seconds": round(world.last_elapsed, 2)})


@pytest.mark.slow
def test_two_syncs_started_at_once_one_runs_the_other_skips_and_exits_0(world: World) -> None:
    # The first HubSpot call takes 5 s, so whichever run takes the lock still holds it when the
    # other, started at the same moment, reaches it (their start-ups differ by well under a second).
    world.sim.inject(kind="delay", delay_seconds=5, endpoint="search", object_type="contacts")
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: world.run_cli("run", env_changes={"HUBSPOT_TIMEOUT_SECONDS": "20"}), range(2)))
    assert [r.returncode for r in runs] == [0, 0], [r.stderr[-2000:] for r in runs]
    ran = [r for r in runs if "[Affiliate Sync] ok:" in r.stdout]
    skipped = [r for r in runs if "[Affiliate Sync] skipped:" in r.stdout]
    assert len(ran) == 1 and len(skipped) == 1, [r.stdout for r in runs]
    assert SKIP_MESSAGE in skipped[0].stdout + skipped[0].stderr  # the logged line
    assert SKIP_MESSAGE not in ran[0].stdout + ran[0].stderr
    world.assert_correct()
    assert world.mails() == []  # neither a success nor a skip alerts
    assert world.sim.stats.count("search", "contacts") == 3  # one scan: the skipped run never called HubSpot
    record_figures("concurrency", "two-syncs-at-once", {"exit_codes": [r.returncode for r in runs], "ran": 1,
                                                        "skipped": 1, "alerts": 0})
