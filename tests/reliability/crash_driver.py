"""Crash-trial driver: the sync's domain write path in a loop, to be SIGKILLed at random points.

    python tests/reliability/crash_driver.py --progress FILE --today YYYY-MM-DD [--loops N] [--seconds S]
    python tests/reliability/crash_driver.py --zygote   # fork one such run per stdin line (see zygote())

It runs the calls the flow's stages make (tasks/sync.py), without Prefect so a trial costs a
second and a half rather than ten: under the sync lock (non-blocking, as the flow takes it),
load and validate the registry, scan HubSpot (the simulator, §7 variables), attribute, read
the partner records' ids (write-back in dry-run: reads only), then loop:

    compute levels with policy A or B → write level and record id into the registry
    (`apply_updates`: registry lock, re-read, atomic write) → build and write the cache
    (`write_cache`: atomic)

A and B alternate and `synced_at` is fixed per variant, so every write replaces one complete,
known version with the other and the test can check each file byte for byte.

Progress goes to a small memory-mapped file (phase byte, iteration counter) rather than a
pipe, so the driver never blocks on output and the test still knows where each kill landed.
Exit status: 0 done (loops or time used up), 75 the sync lock was held.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import struct
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

PHASES = {
    0: "not-started",
    1: "imported",
    2: "scanning",  # the sync lock is held, HubSpot is being read
    3: "scanned",
    4: "registry-write",
    5: "registry-written",
    6: "cache-write",
    7: "cache-written",
}
LOCK_HELD_EXIT = 75


@dataclass(frozen=True)
class Variant:
    name: str
    policy: Any
    synced_at: datetime


def variants() -> tuple[Variant, Variant]:
    from affiliate_sync.settings import LevelPolicy

    return (
        Variant("A", LevelPolicy(), datetime(2026, 2, 1, tzinfo=UTC)),
        Variant("B", LevelPolicy(partner_min_deals=1, pro_min_deals=2), datetime(2026, 2, 2, tzinfo=UTC)),
    )


class Progress:
    """Phase byte at offset 0, iteration count (u64) at offset 8."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR)
        self._map = mmap.mmap(fd, 16)
        os.close(fd)

    def __call__(self, phase: int, iteration: int | None = None) -> None:
        if iteration is not None:
            self._map[8:16] = struct.pack("<Q", iteration)
        self._map[0] = phase


def read_progress(path: Path) -> tuple[int, str, int]:
    """(phase number, phase name, iteration) as last written by the driver."""
    data = path.read_bytes()
    return data[0], PHASES.get(data[0], f"unknown-{data[0]}"), struct.unpack("<Q", data[8:16])[0]


@dataclass
class Scan:
    registry: Any
    leads: Any
    deals: Any
    record_ids: dict[str, str]


def scan(settings: Any) -> Scan:
    """Stages 1, 2 and the read half of 4, as tasks/sync.py runs them."""
    from affiliate_sync.attribution import attribute
    from affiliate_sync.hubspot import HubSpotClient
    from affiliate_sync.money import compute_mrr
    from affiliate_sync.registry import load_registry
    from affiliate_sync.settings import CONTACT_PROPERTIES, DEAL_PROPERTIES
    from affiliate_sync.writeback import push_levels

    registry = load_registry(settings.affiliate_registry_path)
    active = [p.partner_id for p in registry.active]
    known = [p.partner_id for p in registry.partners]
    with HubSpotClient.from_settings(settings) as client:
        leads = attribute(client.scan_attributed("contacts", properties=CONTACT_PROPERTIES), active, known)
        deals = attribute(client.scan_attributed("deals", properties=DEAL_PROPERTIES), active, known)
        mrr = compute_mrr(deals.by_partner, active, won_stages=settings.hubspot_won_stages,
                          policy=variants()[0].policy, today=date.today())
        found = push_levels(client, settings.hubspot_partner_object_type, registry.active, mrr, dry_run=True)
    return Scan(registry, leads, deals, dict(found.record_ids))


def write_variant(settings: Any, scanned: Scan, variant: Variant, today: date, progress: Progress | None = None,
                  iteration: int = 0) -> None:
    """Stages 3, 4 (registry) and 5 for one variant: the flow's write path."""
    from affiliate_sync.cache import build_cache, write_cache
    from affiliate_sync.money import compute_mrr
    from affiliate_sync.registry import PartnerUpdate, apply_updates

    note = progress or (lambda phase, iteration=None: None)
    active = scanned.registry.active
    mrr = compute_mrr(scanned.deals.by_partner, [p.partner_id for p in active],
                      won_stages=settings.hubspot_won_stages, policy=variant.policy, today=today)
    updates = {p.partner_id: PartnerUpdate(level=mrr[p.partner_id].level,
                                           hubspot_record_id=scanned.record_ids.get(p.partner_id)) for p in active}
    note(4, iteration)
    apply_updates(settings.affiliate_registry_path, updates)
    note(5)
    cache = build_cache(partners=active, leads=scanned.leads.by_partner, deals=scanned.deals.by_partner,
                        mrr=mrr, synced_at=variant.synced_at)
    note(6)
    write_cache(settings.affiliate_cache_path, cache)
    note(7)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--progress", type=Path, required=True)
    parser.add_argument("--today", type=date.fromisoformat, required=True)
    parser.add_argument("--loops", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)

    from affiliate_sync.files import LockHeld, file_lock
    from affiliate_sync.settings import load_settings

    progress = Progress(args.progress)
    progress(1, 0)
    settings = load_settings()
    deadline = time.monotonic() + args.seconds
    try:
        with file_lock(settings.lock_path, blocking=False):
            progress(2)
            scanned = scan(settings)
            progress(3)
            for iteration in range(args.loops):
                if time.monotonic() > deadline:
                    break
                write_variant(settings, scanned, variants()[iteration % 2], args.today, progress, iteration)
    except LockHeld:
        print(f"sync lock {settings.lock_path} held", file=sys.stderr)
        return LOCK_HELD_EXIT
    return 0


def zygote() -> int:
    """`--zygote`: import once, then fork one trial per stdin line (its JSON argv).

    A trial costs a fork instead of an interpreter start and imports (1.4 s), so many trials
    stay quick. Protocol: print "ready"; per line read, fork, print the child's pid, then wait
    for a line "reap" before collecting the child and printing its exit status as JSON. Until
    then an exited child stays a zombie, so its pid cannot be reused and killing it is safe.
    """
    import affiliate_sync.attribution  # noqa: F401  (everything a trial imports, imported once)
    import affiliate_sync.cache  # noqa: F401
    import affiliate_sync.hubspot  # noqa: F401
    import affiliate_sync.money  # noqa: F401
    import affiliate_sync.registry  # noqa: F401
    import affiliate_sync.writeback  # noqa: F401

    print("ready", flush=True)
    for line in sys.stdin:
        argv = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the trial
            code = 1
            try:
                code = main(argv)
            except BaseException:  # noqa: BLE001 - report, then leave without running the parent's code
                traceback.print_exc()
            finally:
                sys.stderr.flush()
                os._exit(code)
        print(pid, flush=True)
        if sys.stdin.readline().strip() != "reap":
            break
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"pid": pid, "exit": os.waitstatus_to_exitcode(status)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(zygote() if sys.argv[1:] == ["--zygote"] else main())
