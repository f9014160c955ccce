"""SIGKILL at random points: afterwards each file is a complete old or new version, the lock does
not block the next run, and the next run succeeds.

Two kinds of trial, both counted from the environment so CI runs a few and the report a lot:

* `RELIABILITY_CRASH_TRIALS` (default 12) kills of `crash_driver.py`, the sync's domain write
  path in a loop (registry then cache, alternating two known versions). Trials cycle through
  targets: anywhere in start-up, during the HubSpot scan, inside a registry write, inside a
  cache write, and anywhere in the write loop. Where each kill really landed is read back from
  the driver's progress file.
* `RELIABILITY_CLI_CRASH_TRIALS` (default 1) kills of a real `affiliate-sync run` subprocess,
  half while it holds the sync lock, half at any time since start.

Set `RELIABILITY_FIGURES=<file>` to get the figures of a run as JSON (docs/RELIABILITY.md).
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from .conftest import World
from .crash_driver import LOCK_HELD_EXIT, read_progress, scan, variants, write_variant
from .reliability_support import (
    CACHE_NAME,
    HERE,
    LOCK_NAME,
    REGISTRY_NAME,
    ROOT,
    cli_env,
    record_figures,
    temp_files,
    visible_files,
    without_last_sync,
)

from affiliate_sync.cache import read_cache
from affiliate_sync.files import LockHeld, file_lock
from affiliate_sync.registry import load_registry, lock_path_for
from affiliate_sync.settings import load_settings

DRIVER = HERE / "crash_driver.py"
TARGETS = ("startup", "scan", "registry-write", "cache-write", "write-loop")
READERS_SEE = sorted([CACHE_NAME, LOCK_NAME, REGISTRY_NAME, REGISTRY_NAME + ".lock"])


def _count(name: str, default: int) -> int:
    return max(1, int(os.environ.get(name, default)))


def _expected_versions(world: World, scratch: Path) -> dict[str, dict[str, bytes]]:
    """Registry and cache bytes after writing variant A and variant B, computed the driver's way."""
    scratch.mkdir()
    (scratch / REGISTRY_NAME).write_bytes(world.registry_path.read_bytes())
    settings = load_settings(affiliate_registry_path=scratch / REGISTRY_NAME, affiliate_cache_path=scratch / CACHE_NAME)
    scanned = scan(settings)
    versions: dict[str, dict[str, bytes]] = {"registry": {}, "cache": {}}
    for variant in (*variants(), variants()[0]):
        write_variant(settings, scanned, variant, world.dataset.today)
        registry, cache = (scratch / REGISTRY_NAME).read_bytes(), (scratch / CACHE_NAME).read_bytes()
        if variant.name in versions["registry"]:  # A again, after B: the same bytes (no drift)
            assert versions["registry"][variant.name] == registry and versions["cache"][variant.name] == cache
        versions["registry"][variant.name] = registry
        versions["cache"][variant.name] = cache
    assert versions["registry"]["A"] != versions["registry"]["B"]  # levels really differ
    assert versions["cache"]["A"] != versions["cache"]["B"]
    world.sim.stats.reset()
    return versions


def _which(content: bytes, versions: dict[str, bytes]) -> str | None:
    return next((name for name, known in versions.items() if content == known), None)


def _assert_consistent(world: World, registry_versions: dict[str, bytes], cache_versions: dict[str, bytes],
                       where: str) -> tuple[str, str]:
    """Each file one complete known version, valid, nothing torn visible, no lock left held."""
    registry = _which(world.registry_path.read_bytes(), registry_versions)
    cache = _which(world.cache_path.read_bytes(), cache_versions)
    assert registry is not None, f"{where}: registry is no known version (torn?)"
    assert cache is not None, f"{where}: cache is no known version (torn?)"
    load_registry(world.registry_path)
    read_cache(world.cache_path)
    assert set(visible_files(world.directory)) <= set(READERS_SEE), visible_files(world.directory)
    for lock in (world.directory / LOCK_NAME, lock_path_for(world.registry_path)):
        try:
            with file_lock(lock, blocking=False):
                pass
        except LockHeld:
            pytest.fail(f"{where}: {lock.name} still held after the kill")
    return registry, cache


class Zygote:
    """`crash_driver.py --zygote`: imports once, forks one driver run per trial (see its docstring)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        # One BLAS/OpenMP thread: nothing but the main thread exists when it forks.
        env = {**env, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self._log = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, str(DRIVER), "--zygote"], cwd=ROOT, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        assert self._line(60) == "ready"

    def _line(self, timeout: float) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, "crash driver did not answer"
        return self.proc.stdout.readline().strip()

    def start(self, argv: list[str]) -> int:
        self.proc.stdin.write(json.dumps(argv) + "\n")
        self.proc.stdin.flush()
        return int(self._line(30))

    def reap(self) -> int:
        self.proc.stdin.write("reap\n")
        self.proc.stdin.flush()
        return int(json.loads(self._line(30))["exit"])

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.0005)
    return False


@pytest.mark.crash
def test_sigkill_during_the_write_path_never_tears_a_file_nor_blocks_the_next_run(world: World) -> None:
    trials = _count("RELIABILITY_CRASH_TRIALS", 12)
    rng = random.Random(int(os.environ.get("RELIABILITY_CRASH_SEED", "20260604")))
    versions = _expected_versions(world, world.directory.parent / "scratch")
    registry_versions = {"original": world.baseline.original_registry_bytes, **versions["registry"]}
    cache_versions = {"previous": world.previous_cache_bytes, **versions["cache"]}
    progress = world.directory.parent / "progress.bin"
    env = cli_env()
    landed: Counter[str] = Counter()
    states: Counter[str] = Counter()
    temp_after_kill: Counter[int] = Counter()
    ready_times: list[float] = []
    changes = 0
    before = ("original", "previous")
    started = time.monotonic()

    zygote_log = world.directory.parent / "driver.log"
    zygote = Zygote(env, zygote_log)
    try:
        for trial in range(trials):
            target = TARGETS[trial % len(TARGETS)]
            progress.write_bytes(bytes(16))
            pid = zygote.start(["--progress", str(progress), "--today", world.dataset.today.isoformat(), "--seconds", "20"])
            launched = time.monotonic()
            phase = lambda: read_progress(progress)[0]  # noqa: E731
            iteration = lambda: read_progress(progress)[2]  # noqa: E731
            if target == "startup":  # before the lock is taken
                time.sleep(rng.uniform(0, 0.004))
            elif target == "scan":
                _wait_for(lambda: phase() >= 2, 20)
                time.sleep(rng.uniform(0, (sum(ready_times) / len(ready_times)) if ready_times else 0.1))
            elif target in ("registry-write", "cache-write"):
                number = 4 if target == "registry-write" else 6
                skip = rng.randrange(3)  # not always the first write of the run
                _wait_for(lambda: phase() >= 3 and iteration() >= skip, 20)
                _wait_for(lambda: phase() == number, 20)
            else:
                _wait_for(lambda: phase() >= 2, 20)
                _wait_for(lambda: phase() >= 3, 20)
                ready_times.append(time.monotonic() - launched)
                time.sleep(rng.uniform(0, 0.3))
            os.kill(pid, signal.SIGKILL)
            code = zygote.reap()
            assert code != LOCK_HELD_EXIT, f"trial {trial}: the sync lock of a killed run blocked this one"
            _, where, _ = read_progress(progress)
            landed[where] += 1
            temp_after_kill[len(temp_files(world.directory))] += 1
            # The writers remove the temp files of killed writes before writing: never more than one each.
            assert len(temp_files(world.directory)) <= 2, temp_files(world.directory)
            after = _assert_consistent(world, registry_versions, cache_versions, f"trial {trial} ({where})")
            states[f"registry={after[0]} cache={after[1]}"] += 1
            changes += after != before
            before = after
    finally:
        zygote.close()
        world.guard.add("driver stderr", zygote_log.read_bytes())

    figures: dict[str, Any] = {
        "trials": trials,
        "seconds": round(time.monotonic() - started, 1),
        "killed_in_phase": dict(landed),
        "file_states_after_kill": dict(states),
        "trials_that_changed_a_file": changes,
        "temp_files_left_after_kill": {str(k): v for k, v in sorted(temp_after_kill.items())},
        "torn_or_unknown_files": 0,
        "lock_blocked_next_run": 0,
    }
    # The next run: the real flow, which must succeed, write the correct files and clean up.
    state = world.run_flow()
    assert state.is_completed(), state.message
    world.assert_correct()
    assert temp_files(world.directory) == []
    figures["next_run"] = "completed, cache and registry exact, no temp file left"
    _publish("driver", figures)
    assert landed["registry-write"] + landed["cache-write"] > 0, landed  # kills inside writes happened
    if trials >= 40:
        assert landed["registry-write"] and landed["cache-write"], landed


@pytest.mark.crash
@pytest.mark.slow
def test_sigkill_of_the_real_cli_run_then_the_next_run_succeeds(world: World) -> None:
    trials = _count("RELIABILITY_CLI_CRASH_TRIALS", 1)
    rng = random.Random(int(os.environ.get("RELIABILITY_CRASH_SEED", "20260604")) + 1)
    lock = world.directory / LOCK_NAME
    registry_versions = {"original": world.baseline.original_registry_bytes, "synced": world.baseline.registry_bytes}
    outcomes: Counter[str] = Counter()
    env = cli_env()
    for trial in range(trials):
        cache_versions = {"before": world.cache_path.read_bytes()}
        out = world.directory.parent / f"cli-{trial}.out"
        with out.open("wb") as sink:
            proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run"], cwd=ROOT, env=env, stdout=sink,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            if trial % 2 == 0:  # while it holds the sync lock (the file holds the holder's pid)
                held = _wait_for(lambda: lock.exists() and lock.read_text().strip() == str(proc.pid), 60)
                time.sleep(rng.uniform(0, 1.0))
                kind = "holding the sync lock" if held else "lock never seen"
            else:
                time.sleep(rng.uniform(0, 10.0))
                kind = "any time since start"
            finished = proc.poll() is not None
            if not finished:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        world.guard.add(f"cli {trial} output", out.read_bytes())
        outcomes[f"{kind}: {'had finished' if finished else 'killed'}"] += 1
        registry = _which(world.registry_path.read_bytes(), registry_versions)
        assert registry is not None, f"CLI trial {trial}: registry torn"
        cache = read_cache(world.cache_path)  # valid JSON of the supported version
        assert (world.cache_path.read_bytes() == cache_versions["before"]
                or without_last_sync(cache) == without_last_sync(world.baseline.cache)), f"CLI trial {trial}"
        assert set(visible_files(world.directory)) <= set(READERS_SEE)

    state = world.run_flow()  # the next run (the same flow and lock as `affiliate-sync run`)
    assert state.is_completed(), state.message
    world.assert_correct()
    _publish("cli", {"trials": trials, "outcomes": dict(outcomes), "next_run": "completed, cache and registry exact"})


def _publish(kind: str, figures: dict[str, Any]) -> None:
    print(f"\n[crash figures: {kind}] {json.dumps(figures, sort_keys=True)}")
    record_figures("crashes", kind, figures)
