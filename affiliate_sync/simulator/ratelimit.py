"""HubSpot's per-account rate-limit policies over rolling windows."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from affiliate_sync.simulator.config import RateLimitConfig


@dataclass
class Decision:
    """Whether a request may proceed, which policy refused it, and the headers to send."""

    allowed: bool
    policy: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class RateLimiter:
    """Rolling-window counters per account: search (no headers), burst and optional daily."""

    def __init__(self, config: RateLimitConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._search: dict[str, deque[float]] = {}
        self._burst: dict[str, deque[float]] = {}
        self._daily: dict[str, int] = {}

    def reset(self) -> None:
        with self._lock:
            self._search.clear()
            self._burst.clear()
            self._daily.clear()

    def check_search(self, account: str) -> Decision:
        """Search: `search_max` per rolling `search_window_seconds`, and never any headers."""
        config = self.config
        with self._lock:
            if not self._daily_ok(account):
                return Decision(False, "DAILY")
            window = self._search.setdefault(account, deque())
            now = self._clock()
            _expire(window, now - config.search_window_seconds)
            if config.enabled and len(window) >= config.search_max:
                return Decision(False, "SECONDLY")
            window.append(now)
            self._count_daily(account)
            return Decision(True)

    def check_burst(self, account: str) -> Decision:
        """Other endpoints: `burst_max` per rolling window, with X-HubSpot-RateLimit-* headers."""
        config = self.config
        with self._lock:
            window = self._burst.setdefault(account, deque())
            now = self._clock()
            _expire(window, now - config.burst_window_seconds)
            if not self._daily_ok(account):
                return Decision(False, "DAILY", self._headers(account, len(window)))
            if config.enabled and len(window) >= config.burst_max:
                return Decision(False, "TEN_SECONDLY_ROLLING", self._headers(account, len(window)))
            window.append(now)
            self._count_daily(account)
            return Decision(True, None, self._headers(account, len(window)))

    def burst_headers(self, account: str) -> dict[str, str]:
        """The headers as they stand, for answers that did not pass the limiter (injected 429s)."""
        with self._lock:
            window = self._burst.setdefault(account, deque())
            _expire(window, self._clock() - self.config.burst_window_seconds)
            return self._headers(account, self.config.burst_max)

    def _headers(self, account: str, used: int) -> dict[str, str]:
        config = self.config
        headers = {
            "X-HubSpot-RateLimit-Max": str(config.burst_max),
            "X-HubSpot-RateLimit-Remaining": str(max(config.burst_max - used, 0)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(config.burst_window_seconds * 1000)),
        }
        if config.daily_max is not None:
            used_today = self._daily.get(account, 0)
            headers["X-HubSpot-RateLimit-Daily"] = str(config.daily_max)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(config.daily_max - used_today, 0))
        return headers

    def _daily_ok(self, account: str) -> bool:
        limit = self.config.daily_max
        return not self.config.enabled or limit is None or self._daily.get(account, 0) < limit

    def _count_daily(self, account: str) -> None:
        self._daily[account] = self._daily.get(account, 0) + 1


def _expire(window: deque[float], cutoff: float) -> None:
    while window and window[0] <= cutoff:
        window.popleft()
