"""Fixtures of the reliability suite (issue 6).

* `portal`: one HubSpot simulator for the session, serving a small generated programme
  (3 pages of contacts, so paging faults have pages to hit), reset before each test.
* `baseline`: one fault-free sync of that programme: the registry bytes and the cache every
  successful run must reproduce exactly (except `last_sync`).
* `world`: a fresh data directory (the original registry, a previous cache holding data),
  the job's §7 environment pointing at both and at the simulator, alerts going to an
  aiosmtpd sink, and a leak guard that, at teardown, fails the test if the token (or the
  SMTP password) appears in stdout/stderr, Prefect logs, artifacts, flow-run states,
  e-mails or any file of the directory.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from .reliability_support import (
    CACHE_NAME,
    REGISTRY_NAME,
    SMTP_PASSWORD,
    TOKEN,
    LeakGuard,
    SmtpSink,
    run_cli,
    temp_files,
    without_last_sync,
)

from affiliate_sync.cache import read_cache
from affiliate_sync.files import dump_json
from affiliate_sync.hubspot import HubSpotClient
from affiliate_sync.maintenance import add_level_option
from affiliate_sync.simulator import CUSTOM_WON_STAGE_ID, Dataset, SimulatorServer, generate, write_registry

# Small, so a run takes about a second: 12 active partners, 450 attributed contacts (3 search
# pages), 160 deals (1 page).
FAULT_PROGRAMME = dict(seed=11, n_active=12, n_inactive=2, n_pending=2, contacts_attributed=450,
                       contacts_unattributed=40, deals=160)
# The client's budget in every in-process and CLI run of this suite (the §7-style variables).
MAX_RETRIES = 2
TIMEOUT_SECONDS = 1.0
# Production task retries wait 5 s then 10 s (x up to 1.5 jitter); the suite shortens the
# waits, never the count. docs/RELIABILITY.md states the production budget.
FAST_TASK_RETRY_DELAYS = [0.2, 0.4]


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def fault_dataset() -> Dataset:
    return generate(**FAULT_PROGRAMME)


def install_level_option(sim: SimulatorServer) -> None:
    """What an operator does once at install time (maintenance `add-level-option`)."""
    with HubSpotClient(sim.token, sim.url) as client:
        add_level_option(client, sim.config.partner_object_type, dry_run=False)


def prepare(sim: SimulatorServer) -> SimulatorServer:
    """Initial data, no faults, limits off, `beginner` installed, zero counters."""
    sim.reset()
    sim.set_rate_limits(False)
    install_level_option(sim)
    sim.stats.reset()
    return sim


@pytest.fixture(scope="session")
def portal(fault_dataset: Dataset) -> Iterator[SimulatorServer]:
    with SimulatorServer(token=TOKEN, rate_limits=False, dataset=fault_dataset) as sim:
        yield sim


def job_environment(sim: SimulatorServer, directory: Path, smtp: SmtpSink) -> dict[str, str]:
    return {
        "HUBSPOT_API_TOKEN": TOKEN,
        "HUBSPOT_BASE_URL": sim.url,
        "HUBSPOT_WON_STAGES": f"closedwon,{CUSTOM_WON_STAGE_ID}",
        "HUBSPOT_MAX_RETRIES": str(MAX_RETRIES),
        "HUBSPOT_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        "HUBSPOT_SEARCH_REQUESTS_PER_SECOND": "20",
        "AFFILIATE_REGISTRY_PATH": str(directory / REGISTRY_NAME),
        "AFFILIATE_CACHE_PATH": str(directory / CACHE_NAME),
        "AFFILIATE_COOLDOWN_SECONDS": "0",
        "AFFILIATE_ALERT_EMAIL_TO": "ops@example.test",
        "AFFILIATE_ALERT_EMAIL_FROM": "affiliate-sync@example.test",
        "AFFILIATE_SMTP_HOST": "127.0.0.1",
        "AFFILIATE_SMTP_PORT": str(smtp.port),
        "AFFILIATE_SMTP_TYPE": "INSECURE",
        "AFFILIATE_SMTP_PASSWORD": SMTP_PASSWORD,
        "AFFILIATE_EMAIL_BLOCK": "no-such-block-in-reliability-tests",
    }


@dataclass
class Baseline:
    registry_bytes: bytes
    cache: dict[str, Any]
    original_registry_bytes: bytes


@pytest.fixture(scope="session")
def baseline(prefect_harness: None, portal: SimulatorServer, fault_dataset: Dataset, smtp: SmtpSink,
             tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """One fault-free sync: what every successful run of the programme must write."""
    from flows.sync import affiliate_hubspot_sync

    directory = tmp_path_factory.mktemp("baseline")
    write_registry(directory / REGISTRY_NAME, fault_dataset)
    original = (directory / REGISTRY_NAME).read_bytes()
    prepare(portal)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in job_environment(portal, directory, smtp).items():
            mp.setenv(name, value)
        state = affiliate_hubspot_sync(return_state=True)
    assert state.is_completed(), state.message
    return Baseline((directory / REGISTRY_NAME).read_bytes(), read_cache(directory / CACHE_NAME), original)


def previous_cache(baseline: Baseline) -> dict[str, Any]:
    """An older cache with data: the baseline minus one partner's leads, synced long ago."""
    cache = json.loads(json.dumps(baseline.cache))
    cache["last_sync"] = "2026-01-01T00:00:00+00:00"
    victim = max(cache["leads"], key=lambda pid: len(cache["leads"][pid]))
    cache["leads"][victim] = cache["leads"][victim][:1]
    cache["partners"][victim]["contact_count"] = 1
    return cache


@pytest.fixture(autouse=True)
def fast_task_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same retry count and condition as production, shorter waits between task attempts."""
    from tasks.sync import fetch_attributed_records, load_partner_registry, push_levels_to_hubspot

    for task in (fetch_attributed_records, push_levels_to_hubspot):
        monkeypatch.setattr(task, "retry_delay_seconds", FAST_TASK_RETRY_DELAYS)
    monkeypatch.setattr(load_partner_registry, "retry_delay_seconds", 0.1)  # production: 2 s


@dataclass
class World:
    sim: SimulatorServer
    dataset: Dataset
    directory: Path
    baseline: Baseline
    guard: LeakGuard
    smtp: SmtpSink
    previous_cache_bytes: bytes = b""
    flow_run_ids: list[str] = field(default_factory=list)
    last_elapsed: float = 0.0

    @property
    def registry_path(self) -> Path:
        return self.directory / REGISTRY_NAME

    @property
    def cache_path(self) -> Path:
        return self.directory / CACHE_NAME

    def run_flow(self, **parameters: bool):
        from flows.sync import affiliate_hubspot_sync

        started = time.monotonic()
        state = affiliate_hubspot_sync(**parameters, return_state=True)
        self.last_elapsed = time.monotonic() - started
        self.flow_run_ids.append(str(state.state_details.flow_run_id))
        return state

    def run_cli(self, *args: str, **kwargs: Any):
        return run_cli(self.guard, *args, **kwargs)

    def mails(self):
        return self.smtp.since(self.guard.mail_index)

    # --- the two outcomes every scenario must end in ---------------------------------------

    def assert_untouched(self) -> None:
        """Failed cleanly: the previous cache and the original registry byte-identical, no temp files."""
        assert self.cache_path.read_bytes() == self.previous_cache_bytes, "previous cache changed"
        assert self.registry_path.read_bytes() == self.baseline.original_registry_bytes, "registry changed"
        assert temp_files(self.directory) == []

    def assert_correct(self) -> None:
        """Succeeded: exactly the baseline's registry and cache (a fresh last_sync), no temp files."""
        cache = read_cache(self.cache_path)
        assert cache["last_sync"] != "2026-01-01T00:00:00+00:00"
        assert without_last_sync(cache) == without_last_sync(self.baseline.cache)
        assert self.registry_path.read_bytes() == self.baseline.registry_bytes
        assert temp_files(self.directory) == []


@pytest.fixture()
def world(prefect_harness: None, portal: SimulatorServer, fault_dataset: Dataset, baseline: Baseline,
          smtp: SmtpSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          capfd: pytest.CaptureFixture[str]) -> Iterator[World]:
    prepare(portal)
    directory = tmp_path / "data"
    directory.mkdir()
    (directory / REGISTRY_NAME).write_bytes(baseline.original_registry_bytes)
    previous = dump_json(previous_cache(baseline)).encode()
    (directory / CACHE_NAME).write_bytes(previous)
    for name, value in job_environment(portal, directory, smtp).items():
        monkeypatch.setenv(name, value)
    guard = LeakGuard(started=datetime.now(UTC), mail_index=len(smtp.messages))
    world = World(portal, fault_dataset, directory, baseline, guard, smtp, previous)
    yield world
    out, err = capfd.readouterr()
    guard.add("pytest process stdout", out)
    guard.add("pytest process stderr", err)
    guard.collect_prefect()
    guard.collect_mail(smtp)
    guard.collect_files(tmp_path)
    leaks = guard.leaks()
    assert not leaks, f"secret leaked: {leaks}"
    if world.flow_run_ids:  # the guard really looked at something
        assert guard.checked["prefect_logs"] > 0 and guard.checked["flow_runs"] > 0, guard.checked
