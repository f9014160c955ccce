"""Request counters the tests read: per endpoint kind and object type, statuses, 429s, faults."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Thread-safe counters of CRM API traffic (control endpoints are not counted)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests: Counter[tuple[str, str]] = Counter()
            self._statuses: Counter[int] = Counter()
            self._rate_limited: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()

    def request(self, endpoint: str, object_type: str) -> None:
        with self._lock:
            self._requests[(endpoint, object_type)] += 1

    def response(self, status: int, policy: str | None = None) -> None:
        with self._lock:
            self._statuses[status] += 1
            if status == 429:
                self._rate_limited[policy or "UNKNOWN"] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def count(self, endpoint: str | None = None, object_type: str | None = None) -> int:
        """Requests seen, optionally only of one endpoint kind and/or object type."""
        with self._lock:
            return sum(
                n
                for (kind, otype), n in self._requests.items()
                if (endpoint is None or kind == endpoint) and (object_type is None or otype == object_type)
            )

    @property
    def rate_limited(self) -> int:
        """429 answers sent, real or injected."""
        with self._lock:
            return sum(self._rate_limited.values())

    def snapshot(self) -> dict[str, Any]:
        """The JSON of `GET /_simulator/stats`."""
        with self._lock:
            requests: dict[str, dict[str, int]] = {}
            for (kind, otype), n in sorted(self._requests.items()):
                requests.setdefault(kind, {})[otype] = n
            return {
                "requests": requests,
                "total_requests": sum(self._requests.values()),
                "statuses": {str(code): n for code, n in sorted(self._statuses.items())},
                "rate_limited": sum(self._rate_limited.values()),
                "rate_limited_by_policy": dict(self._rate_limited),
                "faults_triggered": dict(self._faults),
            }
