"""Fixtures: a fresh simulator per test on 127.0.0.1 and an authenticated httpx client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from simtest_helpers import TOKEN, http_client

from affiliate_sync.simulator import SimulatorServer


@pytest.fixture()
def server() -> Iterator[SimulatorServer]:
    """An empty simulator with rate limits off (tests that need them turn them on)."""
    with SimulatorServer(token=TOKEN, rate_limits=False) as sim:
        yield sim


@pytest.fixture()
def client(server: SimulatorServer) -> Iterator[httpx.Client]:
    with http_client(server.url) as http:
        yield http
