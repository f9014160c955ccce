"""Fixtures for flow tests: a generated programme served by the simulator, wired through §7 variables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_programme import TOKEN, Programme

from affiliate_sync.simulator import CUSTOM_WON_STAGE_ID, SimulatorServer, generate, write_registry


@pytest.fixture()
def programme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None) -> Iterator[Programme]:
    """A 25-partner portal on 127.0.0.1 (rate limits off: pacing has its own tests) and its registry."""
    dataset = generate(seed=7, n_active=25, n_inactive=4, n_pending=3, contacts_attributed=600,
                       contacts_unattributed=80, deals=220)
    registry_path = write_registry(tmp_path / "affiliate_partners.json", dataset)
    cache_path = tmp_path / "affiliate_hubspot_cache.json"
    with SimulatorServer(token=TOKEN, rate_limits=False, dataset=dataset) as simulator:
        for name, value in {
            "HUBSPOT_API_TOKEN": TOKEN,
            "HUBSPOT_BASE_URL": simulator.url,
            "HUBSPOT_WON_STAGES": f"closedwon,{CUSTOM_WON_STAGE_ID}",
            "AFFILIATE_REGISTRY_PATH": str(registry_path),
            "AFFILIATE_CACHE_PATH": str(cache_path),
            "AFFILIATE_COOLDOWN_SECONDS": "0",
            "HUBSPOT_MAX_RETRIES": "2",
        }.items():
            monkeypatch.setenv(name, value)
        for name in ("AFFILIATE_ALERT_EMAIL_TO",):
            monkeypatch.delenv(name, raising=False)
        yield Programme(simulator, dataset, registry_path, cache_path)
