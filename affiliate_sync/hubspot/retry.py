"""The retry policy: which failures are worth another attempt, and how long to wait first.

This module decides; the client's single request loop (`HubSpotClient._request`) obeys.
Nothing here sleeps or does I/O, so the rules are easy to test and the worst case easy to
compute.

Waits (every one capped at `backoff_cap`):

* 429 with `Retry-After`: exactly what the server asked. If it asks for more than
  `backoff_cap` we give up at once rather than overrun the bounded budget.
* 429 `DAILY`: give up at once; nothing short of tomorrow helps (code hubspot_rate_limited).
* 429 `SECONDLY`: about one second (the window is one second).
* 429 `TEN_SECONDLY_ROLLING`: the interval the headers report, else the burst interval.
* other 429s, 5xx, timeouts, dropped connections, unreadable 2xx bodies: exponential
  backoff `backoff_base * 2**(n-1)` with "equal jitter" (a uniform draw between half and
  all of it), so the wait never collapses to zero and clients do not retry in lockstep.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class FailureKind(StrEnum):
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    MALFORMED_BODY = "malformed_body"


@dataclass(frozen=True)
class Failure:
    """One failed attempt, described well enough to decide on and to report."""

    kind: FailureKind
    detail: str
    status: int | None = None
    retry_after: float | None = None
    policy_name: str | None = None
    interval_seconds: float | None = None
    category: str | None = None
    correlation_id: str | None = None


# Jitter added to the fixed waits (SECONDLY, rolling interval): a small share on top, so
# we never come back a hair before the window has moved.
_FIXED_WAIT_JITTER = 0.1
SECONDLY_WAIT = 1.0


class RetryPolicy:
    """Bounded retries: at most `max_retries` waits, each at most `backoff_cap` seconds."""

    def __init__(
        self,
        *,
        max_retries: int,
        backoff_base: float,
        backoff_cap: float,
        burst_interval: float,
        random_fraction: Callable[[], float] = random.random,
    ) -> None:
        if max_retries < 0 or backoff_base < 0 or backoff_cap < 0:
            raise ValueError("retry settings must not be negative")
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.burst_interval = burst_interval
        self._random = random_fraction

    def wait_before_retry(self, retry_number: int, failure: Failure) -> float | None:
        """Seconds to wait before retry `retry_number` (1-based), or None to give up now."""
        if retry_number > self.max_retries:
            return None
        if failure.kind is FailureKind.RATE_LIMITED and (failure.policy_name or "").upper() == "DAILY":
            return None
        if failure.retry_after is not None:
            if failure.retry_after > self.backoff_cap:
                return None  # honouring it would break the bounded budget
            return max(0.0, failure.retry_after)
        if failure.kind is FailureKind.RATE_LIMITED:
            fixed = self._rate_limit_wait(failure)
            if fixed is not None:
                return min(self.backoff_cap, fixed * (1.0 + _FIXED_WAIT_JITTER * self._random()))
        return self.exponential(retry_number)

    def _rate_limit_wait(self, failure: Failure) -> float | None:
        policy = (failure.policy_name or "").upper()
        if policy == "SECONDLY":
            return SECONDLY_WAIT
        if policy == "TEN_SECONDLY_ROLLING":
            return failure.interval_seconds or self.burst_interval
        return None

    def exponential(self, retry_number: int) -> float:
        # Exponent clamped so a large retry count cannot overflow before the cap applies.
        raw = self.backoff_base * (2 ** min(max(retry_number - 1, 0), 32))
        capped = min(self.backoff_cap, raw)
        return capped * (0.5 + 0.5 * self._random())

    def worst_case_wait_seconds(self) -> float:
        """The most the waits between attempts can add up to for one request."""
        return self.max_retries * self.backoff_cap


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """`Retry-After` in seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
