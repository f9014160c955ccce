"""Fixtures: one HubSpot simulator on 127.0.0.1 for the module's tests, reset before each test,
and a factory of HubSpot clients with fast backoff so the suite stays quick."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from affiliate_sync.hubspot import HubSpotClient
from affiliate_sync.simulator.server import SimulatorServer

# Deliberately not shaped like a HubSpot token, so the client's exact-token redaction is
# what keeps it out of logs (not the generic "pat-..." pattern).
TOKEN = "sim-secret-7d41c0ffee5b9e"
PARTNER_TYPE = "2-197867933"

ClientFactory = Callable[..., HubSpotClient]


@pytest.fixture(scope="session")
def _server() -> Iterator[SimulatorServer]:
    server = SimulatorServer(token=TOKEN, rate_limits=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def sim(_server: SimulatorServer) -> SimulatorServer:
    """The shared simulator with no data, no faults, zero counters and rate limits off."""
    _server.reset()
    _server.store.reset()
    return _server


class SleepRecorder:
    """A real sleep that remembers every wait the client asked for."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


@pytest.fixture()
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture()
def make_client(sim: SimulatorServer, sleeps: SleepRecorder) -> Iterator[ClientFactory]:
    """`make_client(**overrides)`: a client for the simulator; fast, small backoff by default."""
    clients: list[HubSpotClient] = []

    def factory(**overrides: Any) -> HubSpotClient:
        options: dict[str, Any] = {
            "search_per_second": 1000.0,  # rate limits are off unless a test turns them on
            "max_retries": 4,
            "timeout": 2.0,
            "backoff_base": 0.01,
            "backoff_cap": 0.2,
            "sleep": sleeps,
        }
        options.update(overrides)
        token = options.pop("token", TOKEN)
        client = HubSpotClient(token, options.pop("base_url", sim.url), **options)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


def contacts(count: int, *, partners: tuple[str, ...] = ("AP-20240101-ABC123",), start: int = 1) -> list[dict[str, Any]]:
    """`count` contact records with explicit ids `start`.., spread over `partners`."""
    return [
        {
            "id": str(start + n),
            "properties": {
                "email": f"lead{start + n}@example.com",
                "firstname": f"Lead{start + n}",
                "affiliate_partner_id": partners[n % len(partners)],
            },
        }
        for n in range(count)
    ]


@pytest.fixture()
def load_contacts(sim: SimulatorServer) -> Callable[..., list[str]]:
    """`load_contacts(count, partners=..., start=...)`: replace the contacts table with
    `count` attributed contacts and return their ids, ascending."""

    def load(count: int, **kwargs: Any) -> list[str]:
        records = contacts(count, **kwargs)
        sim.store.load({"contacts": records}, replace=True)
        sim.app.api.engine.clear()
        return [record["id"] for record in records]

    return load


@pytest.fixture()
def token() -> str:
    return TOKEN
