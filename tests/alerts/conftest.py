"""Real components for the alert tests: an aiosmtpd server, the HubSpot simulator, a data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mail_sink import SmtpSink

from affiliate_sync.simulator import SimulatorServer, generate, write_registry

TOKEN = "pat-na1-alerts-test-0000-SECRET-TOKEN"
SMTP_PASSWORD = "smtp-password-never-shown"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorServer]:
    dataset = generate(seed=3, n_active=8, n_inactive=1, n_pending=1, contacts_attributed=60, deals=30)
    with SimulatorServer(token=TOKEN, dataset=dataset, rate_limits=False) as sim:
        sim.dataset = dataset  # type: ignore[attr-defined]
        yield sim


@pytest.fixture
def workdir(tmp_path: Path, simulator: SimulatorServer, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A registry matching the simulator, a cache path, and the job's environment pointing at them."""
    smtp.messages.clear()
    simulator.reset()
    write_registry(tmp_path / "affiliate_partners.json", simulator.dataset)  # type: ignore[attr-defined]
    env = {
        "HUBSPOT_API_TOKEN": TOKEN,
        "HUBSPOT_BASE_URL": simulator.url,
        "HUBSPOT_MAX_RETRIES": "1",
        "AFFILIATE_REGISTRY_PATH": str(tmp_path / "affiliate_partners.json"),
        "AFFILIATE_CACHE_PATH": str(tmp_path / "affiliate_hubspot_cache.json"),
        "AFFILIATE_ALERT_EMAIL_TO": "ops@example.test",
        "AFFILIATE_ALERT_EMAIL_FROM": "affiliate-sync@example.test",
        "AFFILIATE_SMTP_HOST": "127.0.0.1",
        "AFFILIATE_SMTP_PORT": str(smtp.port),
        "AFFILIATE_SMTP_TYPE": "INSECURE",
        "AFFILIATE_SMTP_PASSWORD": SMTP_PASSWORD,
        # no EmailServerCredentials block exists on the test API: the AFFILIATE_SMTP_* path is used
        "AFFILIATE_EMAIL_BLOCK": "no-such-block-in-tests",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return tmp_path
