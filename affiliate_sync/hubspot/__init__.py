"""HubSpot CRM client: pacing, bounded retries, paging past the 10,000 cap, redaction."""

from affiliate_sync.hubspot.client import BATCH_LIMIT, BatchError, BatchResult, HubSpotClient
from affiliate_sync.hubspot.errors import (
    HubSpotAuthError,
    HubSpotError,
    HubSpotRateLimitedError,
    HubSpotRequestError,
    HubSpotUnavailableError,
)
from affiliate_sync.hubspot.redact import redact
from affiliate_sync.hubspot.stats import ClientStats

__all__ = [
    "BATCH_LIMIT",
    "BatchError",
    "BatchResult",
    "ClientStats",
    "HubSpotAuthError",
    "HubSpotClient",
    "HubSpotError",
    "HubSpotRateLimitedError",
    "HubSpotRequestError",
    "HubSpotUnavailableError",
    "redact",
]
