"""The cache health check of SPEC §6, without Prefect: one function, one report, one exit code.

| state of the cache                                      | status    | exit |
|---------------------------------------------------------|-----------|------|
| present, valid, `last_sync` younger than 2 h            | `ok`      | 0    |
| present and valid but no `last_sync`, or 2 h – 6 h old  | `warning` | 2    |
| missing, unreadable, invalid, or older than 6 h         | `error`   | 1    |

A `last_sync` more than five minutes in the future (clock skew between the job's host and
this one) is a warning: the age cannot be trusted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from affiliate_sync.cache import read_cache
from affiliate_sync.errors import AffiliateSyncError, CacheError, ErrorCode

WARN_AFTER = timedelta(hours=2)
ERROR_AFTER = timedelta(hours=6)
FUTURE_TOLERANCE = timedelta(minutes=5)
_DATETIME = TypeAdapter(datetime)


class HealthStatus(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


EXIT_CODES: dict[HealthStatus, int] = {HealthStatus.OK: 0, HealthStatus.WARNING: 2, HealthStatus.ERROR: 1}


class HealthProblem(StrEnum):
    """Why a cache is not `ok`; `None` in a report means nothing is wrong."""

    MISSING = "missing"
    UNREADABLE = "unreadable"  # covers corrupt JSON and a wrong shape or version
    NO_LAST_SYNC = "no_last_sync"
    STALE = "stale"  # 2 h – 6 h
    VERY_STALE = "very_stale"  # > 6 h
    IN_FUTURE = "in_future"


@dataclass(frozen=True)
class HealthReport:
    status: HealthStatus
    message: str
    cache_path: str
    checked_at: datetime
    problem: HealthProblem | None = None
    last_sync: datetime | None = None
    age_seconds: float | None = None
    partners: int | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        data["problem"] = str(self.problem) if self.problem else None
        data["checked_at"] = self.checked_at.isoformat(timespec="seconds")
        data["last_sync"] = self.last_sync.isoformat(timespec="seconds") if self.last_sync else None
        data["age_seconds"] = round(self.age_seconds, 1) if self.age_seconds is not None else None
        data["exit_code"] = self.exit_code
        data["thresholds"] = {
            "warning_after_seconds": int(WARN_AFTER.total_seconds()),
            "error_after_seconds": int(ERROR_AFTER.total_seconds()),
        }
        return data

    def one_line(self) -> str:
        return f"{self.status.upper()}: {self.message}"


class HealthCheckFailed(AffiliateSyncError):
    """Raised by the daily health flow on an `error` report, so the run fails and alerts.

    `code` stays one of the shared codes (`cache_invalid` when the file is unreadable);
    `alert_code` refines it for the e-mail: `sync_stale` when the cache is missing or too old,
    which means the hourly sync has not succeeded for hours.
    """

    def __init__(self, report: HealthReport) -> None:
        unreadable = report.problem is HealthProblem.UNREADABLE
        super().__init__(
            f"health check: {report.message}",
            code=ErrorCode.CACHE_INVALID if unreadable else ErrorCode.UNEXPECTED,
        )
        self.report = report
        self.alert_code = "cache_invalid" if unreadable else "sync_stale"


def check_health(
    cache_path: Path,
    *,
    now: datetime | None = None,
    warn_after: timedelta = WARN_AFTER,
    error_after: timedelta = ERROR_AFTER,
) -> HealthReport:
    """Judge the cache at `cache_path` (never raises for a bad cache: that is an `error` report)."""
    now = now or datetime.now(UTC)
    path = str(cache_path)

    def report(status: HealthStatus, message: str, problem: HealthProblem | None = None, **extra: Any) -> HealthReport:
        return HealthReport(status=status, message=message, cache_path=path, checked_at=now, problem=problem, **extra)

    if not cache_path.exists():
        return report(
            HealthStatus.ERROR,
            f"cache {path} does not exist (the sync has never written it here: check AFFILIATE_CACHE_PATH)",
            HealthProblem.MISSING,
        )
    try:
        cache = read_cache(cache_path)
    except CacheError as exc:
        return report(HealthStatus.ERROR, str(exc), HealthProblem.UNREADABLE)

    partners = len(cache.get("partners") or {})
    raw = cache.get("last_sync")
    if not raw:
        return report(
            HealthStatus.WARNING,
            f"cache {path} has no last_sync (written by something other than a completed sync?)",
            HealthProblem.NO_LAST_SYNC,
            partners=partners,
        )
    last_sync = _as_utc(raw)
    age = now - last_sync
    facts = dict(last_sync=last_sync, age_seconds=age.total_seconds(), partners=partners)
    if age < -FUTURE_TOLERANCE:
        return report(
            HealthStatus.WARNING,
            f"last_sync {last_sync.isoformat(timespec='seconds')} is {_human(-age)} in the future (clock skew?)",
            HealthProblem.IN_FUTURE,
            **facts,
        )
    if age > error_after:
        return report(
            HealthStatus.ERROR,
            f"last sync {_human(age)} ago ({last_sync.isoformat(timespec='seconds')}), more than {_human(error_after)}",
            HealthProblem.VERY_STALE,
            **facts,
        )
    if age > warn_after:
        return report(
            HealthStatus.WARNING,
            f"last sync {_human(age)} ago ({last_sync.isoformat(timespec='seconds')}), more than {_human(warn_after)}",
            HealthProblem.STALE,
            **facts,
        )
    return report(
        HealthStatus.OK,
        f"last sync {_human(max(age, timedelta(0)))} ago ({last_sync.isoformat(timespec='seconds')}), {partners} partners",
        **facts,
    )


def _as_utc(value: Any) -> datetime:
    moment = _DATETIME.validate_python(value)  # the same parsing read_cache validated with
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"
