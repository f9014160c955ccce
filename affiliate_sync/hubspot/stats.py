"""Call accounting for the HubSpot client: what the run cost and how often HubSpot pushed back."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class ClientStats:
    """Counters keyed by endpoint ("search:contacts", "batch_update:2-197867933", ...).

    `calls` counts every HTTP attempt (retries included), so it is what HubSpot's rate
    limiter saw; `rate_limited` counts 429 answers; `retries` counts attempts that were a
    retry; `failures` counts failed attempts by kind (timeout, connection, ...).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.pacing_wait_seconds = 0.0
        self.backoff_wait_seconds = 0.0

    def record_call(self, endpoint: str, *, paced_for: float = 0.0) -> None:
        with self._lock:
            self.calls[endpoint] += 1
            self.pacing_wait_seconds += paced_for

    def record_rate_limited(self, endpoint: str) -> None:
        with self._lock:
            self.rate_limited[endpoint] += 1

    def record_failure(self, kind: str) -> None:
        with self._lock:
            self.failures[kind] += 1

    def record_retry(self, endpoint: str, waited: float) -> None:
        with self._lock:
            self.retries[endpoint] += 1
            self.backoff_wait_seconds += waited

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def total_rate_limited(self) -> int:
        return sum(self.rate_limited.values())

    @property
    def total_retries(self) -> int:
        return sum(self.retries.values())

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total_calls": sum(self.calls.values()),
                "total_rate_limited": sum(self.rate_limited.values()),
                "total_retries": sum(self.retries.values()),
                "calls": dict(sorted(self.calls.items())),
                "rate_limited": dict(sorted(self.rate_limited.items())),
                "retries": dict(sorted(self.retries.items())),
                "failures": dict(sorted(self.failures.items())),
                "pacing_wait_seconds": round(self.pacing_wait_seconds, 3),
                "backoff_wait_seconds": round(self.backoff_wait_seconds, 3),
            }

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.rate_limited.clear()
            self.retries.clear()
            self.failures.clear()
            self.pacing_wait_seconds = 0.0
            self.backoff_wait_seconds = 0.0

    def __repr__(self) -> str:
        return f"ClientStats({self.as_dict()!r})"
