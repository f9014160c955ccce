"""Retries, backoff and the bounded budget, with faults injected into the simulator."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from affiliate_sync.errors import ErrorCode
from affiliate_sync.hubspot import (
    HubSpotClient,
    HubSpotRateLimitedError,
    HubSpotRequestError,
    HubSpotUnavailableError,
)
from affiliate_sync.simulator.server import SimulatorServer

PROPS = ["email", "affiliate_partner_id"]


def test_429_storm_without_headers_is_absorbed_and_counted(
    sim: SimulatorServer, make_client: Callable, load_contacts: Callable, sleeps
) -> None:
    expected = load_contacts(450)
    sim.inject(kind="status", status=429, endpoint="search", skip=1, count=4)  # SECONDLY, no headers
    client = make_client(max_retries=6)

    records = client.scan_attributed("contacts", PROPS)

    assert [r["id"] for r in records] == expected
    stats = client.stats.as_dict()
    assert stats["rate_limited"] == {"search:contacts": 4}
    assert stats["retries"] == {"search:contacts": 4}
    assert stats["calls"] == {"search:contacts": 3 + 4}
    assert stats["total_rate_limited"] == 4 and stats["total_retries"] == 4
    # SECONDLY → about one second, here clipped by the test's 0.2 s cap.
    assert sleeps.waits == [pytest.approx(0.2)] * 4
    client.stats.reset()
    assert client.stats.as_dict()["total_calls"] == 0 and client.stats.rate_limited == {}


def test_secondly_429_waits_about_one_second(sim: SimulatorServer, make_client: Callable, sleeps) -> None:
    sim.inject(kind="status", status=429, endpoint="search", count=1)
    client = make_client(backoff_cap=5.0)

    assert client.count("contacts") == 0
    assert len(sleeps.waits) == 1 and 1.0 <= sleeps.waits[0] <= 1.1


def test_retry_after_is_honoured(sim: SimulatorServer, make_client: Callable, sleeps) -> None:
    sim.inject(kind="status", status=429, endpoint="search", count=1, retry_after=1)
    client = make_client(backoff_cap=2.0)

    started = time.monotonic()
    assert client.count("contacts") == 0

    assert sleeps.waits == [1.0]
    assert time.monotonic() - started >= 1.0
    assert client.stats.rate_limited["search:contacts"] == 1


def test_retry_after_beyond_the_cap_gives_up_at_once(sim: SimulatorServer, make_client: Callable, sleeps) -> None:
    sim.inject(kind="status", status=429, endpoint="search", count=1, retry_after=120)
    client = make_client(backoff_cap=2.0)

    with pytest.raises(HubSpotRateLimitedError, match="asked to wait 120s") as caught:
        client.count("contacts")
    assert caught.value.code is ErrorCode.HUBSPOT_RATE_LIMITED
    assert client.stats.total_calls == 1 and sleeps.waits == []


def test_daily_limit_fails_immediately(sim: SimulatorServer, make_client: Callable, sleeps) -> None:
    sim.inject(kind="status", status=429, endpoint="any", policy="DAILY", count=5)
    client = make_client()

    with pytest.raises(HubSpotRateLimitedError, match="DAILY") as caught:
        client.get_property("contacts", "email")
    assert caught.value.code is ErrorCode.HUBSPOT_RATE_LIMITED
    assert client.stats.total_calls == 1 and sleeps.waits == []


def test_ten_secondly_429_waits_the_reported_interval(sim: SimulatorServer, make_client: Callable, sleeps) -> None:
    sim.set_rate_limits(burst_window_seconds=0.5)  # headers report a 500 ms interval
    sim.inject(kind="status", status=429, endpoint="other", count=1, policy="TEN_SECONDLY_ROLLING")
    client = make_client(backoff_cap=5.0)

    assert client.get_property("contacts", "email")["name"] == "email"
    assert len(sleeps.waits) == 1 and 0.5 <= sleeps.waits[0] <= 0.55


def test_503_burst_is_retried(sim: SimulatorServer, make_client: Callable, load_contacts: Callable, sleeps) -> None:
    expected = load_contacts(250)
    sim.inject(kind="status", status=503, endpoint="search", count=3)
    client = make_client()

    assert [r["id"] for r in client.scan_attributed("contacts", PROPS)] == expected
    assert client.stats.retries["search:contacts"] == 3
    assert client.stats.failures == {"server_error": 3}
    assert client.stats.rate_limited == {}
    # exponential with jitter: between half and all of base * 2**(n-1)
    for n, wait in enumerate(sleeps.waits, start=1):
        assert 0.005 * 2 ** (n - 1) <= wait <= 0.01 * 2 ** (n - 1)


def test_timeout_is_retried(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    expected = load_contacts(10)
    sim.inject(kind="delay", endpoint="search", delay_seconds=1.5, count=1)
    client = make_client(timeout=0.5)

    assert [r["id"] for r in client.scan_attributed("contacts", PROPS)] == expected
    assert client.stats.failures == {"timeout": 1}
    assert client.stats.calls["search:contacts"] == 2


def test_connection_dropped_mid_body_is_retried(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    expected = load_contacts(450)
    sim.inject(kind="drop", endpoint="search", skip=1, count=2)
    client = make_client()

    assert [r["id"] for r in client.scan_attributed("contacts", PROPS)] == expected
    assert client.stats.failures == {"connection": 2}
    assert sim.stats.snapshot()["faults_triggered"] == {"drop": 2}


def test_malformed_json_page_is_retried(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    expected = load_contacts(450)
    sim.inject(kind="malformed", endpoint="search", skip=1, count=1)
    client = make_client()

    assert [r["id"] for r in client.scan_attributed("contacts", PROPS)] == expected
    assert client.stats.failures == {"malformed_body": 1}


def test_non_json_error_page_on_502_is_retried(sim: SimulatorServer, make_client: Callable) -> None:
    sim.inject(kind="status", status=502, endpoint="search", count=2, body="<html>Bad gateway</html>", content_type="text/html")
    client = make_client()

    assert client.count("contacts") == 0
    assert client.stats.retries["search:contacts"] == 2


def test_exhausted_budget_on_5xx_raises_unavailable_in_bounded_time(sim: SimulatorServer, make_client: Callable) -> None:
    sim.inject(kind="status", status=503, endpoint="any", count=1_000)
    client = make_client(max_retries=3, backoff_base=0.01, backoff_cap=0.05)

    started = time.monotonic()
    with pytest.raises(HubSpotUnavailableError, match="gave up after 4 attempt") as caught:
        client.batch_read("contacts", ["1"], properties=PROPS)
    elapsed = time.monotonic() - started

    assert caught.value.code is ErrorCode.HUBSPOT_UNAVAILABLE
    assert caught.value.status == 503 and caught.value.correlation_id
    assert client.stats.calls["batch_read:contacts"] == 4
    assert elapsed < client.worst_case_seconds()
    assert elapsed < 3 * 0.05 + 1.0


def test_exhausted_budget_on_429_raises_rate_limited(sim: SimulatorServer, make_client: Callable) -> None:
    sim.inject(kind="status", status=429, endpoint="search", count=1_000)
    client = make_client(max_retries=2)

    with pytest.raises(HubSpotRateLimitedError, match="gave up after 3 attempt") as caught:
        client.count("contacts")
    assert caught.value.code is ErrorCode.HUBSPOT_RATE_LIMITED
    assert client.stats.rate_limited["search:contacts"] == 3


def test_last_failure_decides_the_error_class(sim: SimulatorServer, make_client: Callable) -> None:
    sim.inject(kind="status", status=429, endpoint="search", count=2)
    sim.inject(kind="status", status=500, endpoint="search", skip=2, count=1)
    client = make_client(max_retries=2)

    with pytest.raises(HubSpotUnavailableError):
        client.count("contacts")


def test_connection_refused_is_unavailable(make_client: Callable) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(base_url=f"http://127.0.0.1:{port}", max_retries=2)

    with pytest.raises(HubSpotUnavailableError, match="ConnectError") as caught:
        client.count("contacts")
    assert caught.value.code is ErrorCode.HUBSPOT_UNAVAILABLE
    assert client.stats.total_calls == 3


def test_bad_base_url_scheme_is_not_retried(make_client: Callable) -> None:
    client = make_client(base_url="ftp://127.0.0.1:9")
    with pytest.raises(HubSpotRequestError, match="HUBSPOT_BASE_URL"):
        client.count("contacts")
    assert client.stats.total_calls == 1


def test_worst_case_formula_with_defaults() -> None:
    client = HubSpotClient("any-token", "http://127.0.0.1:9")
    try:
        # (6 + 1) * (4 * 30 + 2 * 10 * 1.05) + 6 * 30
        assert client.worst_case_seconds() == pytest.approx(7 * (120 + 21) + 180)
    finally:
        client.close()
