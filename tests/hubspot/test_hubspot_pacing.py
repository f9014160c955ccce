"""Client-side pacing against the simulator with its rate limits ON."""

from __future__ import annotations

import time
from collections.abc import Callable

from affiliate_sync.hubspot.pacing import SlidingWindowLimiter
from affiliate_sync.simulator.server import SimulatorServer


def test_search_is_paced_to_five_per_second_with_no_429s(
    sim: SimulatorServer, make_client: Callable, load_contacts: Callable
) -> None:
    sim.set_rate_limits(True, search_max=5, search_window_seconds=1.0)
    load_contacts(5)
    client = make_client(search_per_second=5.0)

    began = time.monotonic()
    for _ in range(32):
        assert client.count("contacts") == 5
    elapsed = time.monotonic() - began

    # The simulator counts arrivals in a rolling second: zero 429s means it never saw six.
    assert sim.stats.rate_limited == 0
    assert client.stats.total_rate_limited == 0 and client.stats.total_calls == 32
    assert elapsed >= (32 - 5) / 5  # no faster than five a second...
    assert elapsed < 32 / 5 * 1.1 + 4.0  # ...and paced, not crawling (slack for a loaded CI box)


def test_unpaced_client_would_hit_the_limit(sim: SimulatorServer, make_client: Callable) -> None:
    """Control for the test above: the simulator really enforces 5/s, and the retries absorb it."""
    sim.set_rate_limits(True, search_max=5, search_window_seconds=1.0)
    client = make_client(search_per_second=1000.0, backoff_cap=1.0, max_retries=6)

    for _ in range(20):
        client.count("contacts")

    assert sim.stats.rate_limited > 0
    assert client.stats.total_rate_limited == sim.stats.rate_limited


def test_burst_headers_slow_the_client_down(sim: SimulatorServer, make_client: Callable, load_contacts: Callable) -> None:
    # A portal with a much smaller burst limit than configured: the headers teach the client.
    sim.set_rate_limits(True, burst_max=10, burst_window_seconds=1.0)
    ids = load_contacts(3)
    client = make_client(burst_limit=190, burst_interval=1.0)

    for _ in range(25):
        assert len(client.batch_read("contacts", ids, properties=["email"]).results) == 3

    assert sim.stats.rate_limited <= 1
    assert client.stats.calls["batch_read:contacts"] <= 26


def test_limiter_window_arithmetic() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = SlidingWindowLimiter("t", 2, 1.0, safety_margin=0.1, clock=lambda: now[0], sleep=sleep)
    assert limiter.acquire() == 0 and limiter.acquire() == 0
    assert abs(limiter.acquire() - 1.1) < 1e-9  # third start waits for the first to age out
    limiter.observe_headers({"x-hubspot-ratelimit-remaining": "0", "x-hubspot-ratelimit-interval-milliseconds": "1000"})
    assert abs(limiter.acquire() - 1.0) < 1e-9  # nothing left: wait the whole interval
    limiter.observe_headers({"x-hubspot-ratelimit-remaining": "0", "x-hubspot-ratelimit-interval-milliseconds": "60000"})
    assert limiter.acquire() <= 1.1 + 1e-9  # an absurd interval is clamped to one window
    limiter.observe_headers({"x-hubspot-ratelimit-max": "1"})
    assert limiter.max_calls == 1
    limiter.reset()
    assert limiter.max_calls == 2 and limiter.acquire() == 0
