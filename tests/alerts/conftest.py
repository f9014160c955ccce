"""Real components for the alert tests: an aiosmtpd server, the HubSpot simulator, a data directory."""

from __future__ import annotations

import email
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from affiliate_sync.simulator import SimulatorServer, generate, write_registry

TOKEN = "pat-na1-alerts-test-0000-SECRET-TOKEN"
SMTP_PASSWORD = "smtp-password-never-shown"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        parts = [p for p in self.message.walk() if p.get_content_type() == "text/plain"]
        return "\n".join(p.get_payload(decode=True).decode() for p in parts)

    @property
    def raw(self) -> str:
        return self.message.as_string()


class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self._lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(envelope.content))
            )
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.1)
        return list(self.messages)


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


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
