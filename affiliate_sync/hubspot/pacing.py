"""Client-side request pacing: the only place that decides when a request may leave.

HubSpot enforces two independent policies (SPEC §2):

* CRM search: about 5 requests per second, and its responses carry NO rate-limit headers,
  so we cannot react to "remaining" counts; we must pace proactively.
* everything else: a burst limit per rolling 10 s window, reported by the
  `X-HubSpot-RateLimit-*` headers, which we use to slow down before a 429.

Each policy is a sliding-window log: at most `max_calls` request starts in any window of
`window` seconds. A sliding window is safe whatever bucketing the server uses (fixed or
rolling) as long as our window is at least as long as the server's; `safety_margin`
stretches our window a little so network jitter (two requests leaving 1.00 s apart and
arriving 0.98 s apart) does not turn into a 429.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping

Clock = Callable[[], float]
Sleep = Callable[[float], None]

# Below this many remaining calls (or this share of the maximum) we start spreading the
# rest of the window out instead of spending it at full speed.
_LOW_WATER_CALLS = 2
_LOW_WATER_SHARE = 0.05


class SlidingWindowLimiter:
    """At most `max_calls` acquisitions in any `window * (1 + safety_margin)` seconds."""

    def __init__(
        self,
        name: str,
        max_calls: int,
        window: float,
        *,
        safety_margin: float = 0.0,
        clock: Clock,
        sleep: Sleep,
    ) -> None:
        if max_calls < 1 or window <= 0:
            raise ValueError("a limiter needs max_calls >= 1 and window > 0")
        self.name = name
        self.configured_max_calls = max_calls
        self.max_calls = max_calls
        self.base_window = window
        self.window = window * (1.0 + safety_margin)
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        # Set by 429s and low "remaining" headers: nothing leaves before this instant.
        self._not_before = 0.0
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self) -> float:
        """Block until a request may start, record its start, return the seconds waited.

        The loop runs at most twice per pending window entry: each pass either returns or
        sleeps until the oldest start leaves the window (or the hold expires).
        """
        waited = 0.0
        with self._lock:  # held while sleeping: concurrent callers queue up in order
            for _ in range(self.max_calls + 3):
                delay = self._delay_needed(self._clock())
                if delay <= 0:
                    break
                self._sleep(delay)
                waited += delay
            self._starts.append(self._clock())
            self.waited_seconds += waited
        return waited

    def _delay_needed(self, now: float) -> float:
        while self._starts and self._starts[0] <= now - self.window:
            self._starts.popleft()
        delay = self._not_before - now
        if len(self._starts) >= self.max_calls:
            # The oldest start in the window must age out before another may begin.
            index = len(self._starts) - self.max_calls
            delay = max(delay, self._starts[index] + self.window - now)
        return delay

    def hold(self, seconds: float) -> None:
        """No request of this policy may start for `seconds` (after a 429, say)."""
        if seconds <= 0:
            return
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + seconds)

    def observe_headers(self, headers: Mapping[str, str]) -> None:
        """Adapt to HubSpot's `X-HubSpot-RateLimit-*` headers when the response has them.

        `-Max` lowers our ceiling (a Starter portal allows 100, not 190); a low `-Remaining`
        spreads the remaining calls over the interval, and 0 waits the whole interval, so
        we slow down before the server has to answer 429.
        """
        maximum = _int_header(headers, "x-hubspot-ratelimit-max")
        remaining = _int_header(headers, "x-hubspot-ratelimit-remaining")
        interval_ms = _int_header(headers, "x-hubspot-ratelimit-interval-milliseconds")
        if maximum is not None and maximum >= 1:
            self.max_calls = min(self.configured_max_calls, maximum)
        if remaining is None:
            return
        interval = interval_ms / 1000.0 if interval_ms and interval_ms > 0 else self.base_window
        interval = min(interval, self.window)  # a hold never exceeds one window: keeps the bound
        limit = maximum or self.max_calls
        low_water = max(_LOW_WATER_CALLS, int(limit * _LOW_WATER_SHARE))
        if remaining <= low_water:
            self.hold(interval / (remaining + 1))

    def reset(self) -> None:
        with self._lock:
            self._starts.clear()
            self._not_before = 0.0
            self.max_calls = self.configured_max_calls
            self.waited_seconds = 0.0

    def max_wait_seconds(self) -> float:
        """The longest a single `acquire` can block without an external hold: one window."""
        return self.window


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None
