"""Exceptions raised by the HubSpot client.

Every one is an `AffiliateSyncError`, so the flow's alert picks the right runbook from `code`.
Messages are built by the client from HubSpot's error body (status, category, message,
correlationId) and are redacted before they reach these constructors.
"""

from __future__ import annotations

from affiliate_sync.errors import AffiliateSyncError, ErrorCode


class HubSpotError(AffiliateSyncError):
    """Base class: a HubSpot call that did not succeed.

    `status` is the last HTTP status seen (None for network failures), `category` and
    `correlation_id` come from HubSpot's error body when it had one, `endpoint` is the
    stats key of the call (e.g. "search:contacts").
    """

    code = ErrorCode.UNEXPECTED

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        category: str | None = None,
        correlation_id: str | None = None,
        endpoint: str | None = None,
        code: ErrorCode | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.category = category
        self.correlation_id = correlation_id
        self.endpoint = endpoint


class HubSpotAuthError(HubSpotError):
    """401/403: the token is invalid, expired or lacks a scope. Never retried."""

    code = ErrorCode.HUBSPOT_AUTH

    def __init__(self, message: str, *, missing_scopes: tuple[str, ...] = (), **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.missing_scopes = missing_scopes


class HubSpotRequestError(HubSpotError):
    """Any other 4xx (validation, not found, conflict): retrying the same request cannot help.

    It keeps the generic `unexpected` code: a malformed request is a bug or a wrong object
    type / property name in configuration, not an outage.
    """

    code = ErrorCode.UNEXPECTED


class HubSpotRateLimitedError(HubSpotError):
    """The retry budget ran out on 429s, a DAILY limit was hit, or Retry-After exceeded the cap."""

    code = ErrorCode.HUBSPOT_RATE_LIMITED


class HubSpotUnavailableError(HubSpotError):
    """The retry budget ran out on 5xx, timeouts, dropped connections or unreadable bodies,
    or HubSpot's paging misbehaved (endless empty pages)."""

    code = ErrorCode.HUBSPOT_UNAVAILABLE
