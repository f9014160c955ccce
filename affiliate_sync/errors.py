"""Error codes shared by the sync, the alerts and the ops tools."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    HUBSPOT_AUTH = "hubspot_auth"
    HUBSPOT_RATE_LIMITED = "hubspot_rate_limited"
    HUBSPOT_UNAVAILABLE = "hubspot_unavailable"
    HUBSPOT_EMPTY = "hubspot_empty"
    HUBSPOT_REJECTED = "hubspot_rejected"
    REGISTRY_INVALID = "registry_invalid"
    CACHE_WRITE_FAILED = "cache_write_failed"
    CACHE_INVALID = "cache_invalid"
    CONFIG_INVALID = "config_invalid"
    UNEXPECTED = "unexpected"


class AffiliateSyncError(Exception):
    """A failure the operator can act on; `code` selects the runbook's remediation."""

    code: ErrorCode = ErrorCode.UNEXPECTED

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(AffiliateSyncError):
    code = ErrorCode.CONFIG_INVALID


class RegistryError(AffiliateSyncError):
    code = ErrorCode.REGISTRY_INVALID


class CacheError(AffiliateSyncError):
    code = ErrorCode.CACHE_INVALID


class CacheWriteError(AffiliateSyncError):
    code = ErrorCode.CACHE_WRITE_FAILED


class HubSpotEmptyError(AffiliateSyncError):
    code = ErrorCode.HUBSPOT_EMPTY


class HubSpotRejectedError(AffiliateSyncError):
    """HubSpot refused some level updates (207): cache and registry are written, HubSpot lags."""

    code = ErrorCode.HUBSPOT_REJECTED


def error_code_of(exc: BaseException) -> ErrorCode:
    """The error code of any exception, walking `__cause__` so wrapped errors keep theirs."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, AffiliateSyncError):
            return current.code
        current = current.__cause__ or current.__context__
    return ErrorCode.UNEXPECTED
