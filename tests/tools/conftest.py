"""Fixtures for the ops tools: one HubSpot simulator over real HTTP for the session, reset and
loaded with the fixed programme of `tools_world` before each test, and the environment
pointing the CLI and the flows at it and at a temporary registry and cache."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from affiliate_sync.simulator.server import SimulatorServer
from flows.cli import app
from tools_world import PARTNER_TYPE, TOKEN, Outcome, Programme, hubspot_objects, registry_entries, run_sync


@pytest.fixture(scope="session")
def _server() -> Iterator[SimulatorServer]:
    server = SimulatorServer(token=TOKEN, rate_limits=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def programme(_server: SimulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Programme:
    """A fresh simulator loaded with the fixed programme, and the environment pointing at it."""
    _server.reset()
    _server.store.reset()
    _server.store.load(hubspot_objects(), replace=True)
    _server.app.api.engine.clear()
    data = tmp_path / "data"
    data.mkdir()
    world = Programme(sim=_server, registry_path=data / "affiliate_partners.json",
                      cache_path=data / "affiliate_hubspot_cache.json")
    world.write_registry(registry_entries())
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name, value in {
        "HUBSPOT_API_TOKEN": TOKEN,
        "HUBSPOT_BASE_URL": _server.url,
        "HUBSPOT_PARTNER_OBJECT_TYPE": PARTNER_TYPE,
        "HUBSPOT_SEARCH_REQUESTS_PER_SECOND": "1000",
        "HUBSPOT_MAX_RETRIES": "1",
        "HUBSPOT_TIMEOUT_SECONDS": "5",
        "AFFILIATE_REGISTRY_PATH": str(world.registry_path),
        "AFFILIATE_CACHE_PATH": str(world.cache_path),
        "AFFILIATE_COOLDOWN_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AFFILIATE_DASHBOARD_CACHE_PATH", "HUBSPOT_WON_STAGES", "AFFILIATE_ALERT_EMAIL_TO"):
        monkeypatch.delenv(name, raising=False)
    return world


@pytest.fixture()
def synced(programme: Programme, prefect_harness: None) -> Programme:
    """The programme after one real run of the sync flow (HubSpot already knows `beginner`)."""
    run_sync(programme)
    return programme


@pytest.fixture()
def cli() -> Callable[..., Outcome]:
    """`cli("diagnose", "--partner-id", ...)`: the real `affiliate-sync` app through CliRunner."""
    runner = CliRunner()

    def invoke(*args: str) -> Outcome:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        outcome = Outcome(result.exit_code, result.stdout, result.stderr)
        assert TOKEN not in outcome.stdout + outcome.stderr, "the token leaked into the output"
        return outcome

    return invoke
