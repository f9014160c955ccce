"""Runtime configuration of the simulator: token, scopes, HubSpot limits and rate-limit policies."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from affiliate_sync.settings import DEFAULT_PARTNER_OBJECT_TYPE

DEFAULT_TOKEN = "simulator-token"


@dataclass
class RateLimitConfig:
    """HubSpot's per-account policies: search per second, everything else per rolling 10 s."""

    enabled: bool = True
    search_max: int = 5
    search_window_seconds: float = 1.0
    burst_max: int = 190
    burst_window_seconds: float = 10.0
    # None leaves the daily policy (and its headers) out, which is what most tests want.
    daily_max: int | None = None

    def merged(self, changes: dict[str, Any]) -> RateLimitConfig:
        """A copy with the known keys of `changes` applied; unknown keys raise ValueError."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown rate limit settings: {sorted(unknown)}")
        return replace(self, **changes)


@dataclass
class SearchLimits:
    """The CRM search limits HubSpot documents (SPEC §2)."""

    max_limit: int = 200
    default_limit: int = 10
    max_results: int = 10_000
    max_groups: int = 5
    max_filters_per_group: int = 6
    max_filters_total: int = 18


@dataclass
class SimulatorConfig:
    """Everything a test may want to change while the server runs."""

    token: str = DEFAULT_TOKEN
    partner_object_type: str = DEFAULT_PARTNER_OBJECT_TYPE
    missing_scopes: set[str] = field(default_factory=set)
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    search: SearchLimits = field(default_factory=SearchLimits)
    list_max_limit: int = 100
    batch_max_inputs: int = 100
    # HubSpot rejects writes to undefined properties; off by default so new write-back
    # fields do not need a schema entry first, on when a test wants HubSpot's strictness.
    strict_properties: bool = False

    def public(self) -> dict[str, Any]:
        """JSON view for the control API; the token stays out, as it would from any log."""
        data = asdict(self)
        del data["token"]
        data["missing_scopes"] = sorted(self.missing_scopes)
        return data
