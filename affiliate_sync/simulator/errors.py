"""HubSpot-shaped error bodies and the exception that carries one to the HTTP layer."""

from __future__ import annotations

import uuid
from typing import Any

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)
RATE_LIMIT_MESSAGES: dict[str, str] = {
    "SECONDLY": "You have reached your secondly limit.",
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "DAILY": "You have reached your daily limit.",
}


def correlation_id() -> str:
    return str(uuid.uuid4())


class ApiError(Exception):
    """A HubSpot error response: raise it anywhere in a handler to answer with `body`."""

    def __init__(self, status: int, category: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {
            "status": "error",
            "message": message,
            "correlationId": correlation_id(),
            "category": category,
            **extra,
        }


def validation_error(message: str, **extra: Any) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, **extra)


def not_found(object_id: str) -> ApiError:
    return ApiError(
        404,
        "OBJECT_NOT_FOUND",
        "Object not found.  objectId are usually numeric.",
        context={"id": [object_id]},
    )


def auth_body() -> dict[str, Any]:
    """HubSpot's 401 body for a missing or unknown token."""
    return {
        "status": "error",
        "message": AUTH_MESSAGE,
        "correlationId": correlation_id(),
        "category": "INVALID_AUTHENTICATION",
    }


def missing_scopes_body(scopes: list[str]) -> dict[str, Any]:
    """HubSpot's 403 body: the scopes it needs are in `errors[].context.requiredGranularScopes`."""
    return {
        "status": "error",
        "message": SCOPES_MESSAGE,
        "correlationId": correlation_id(),
        "errors": [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": list(scopes)},
            }
        ],
        "links": {"scopes": "https://developers.hubspot.com/scopes"},
        "category": "MISSING_SCOPES",
    }


def rate_limit_body(policy: str) -> dict[str, Any]:
    """HubSpot's 429 body for one policy (`SECONDLY`, `TEN_SECONDLY_ROLLING`, `DAILY`)."""
    return {
        "status": "error",
        "message": RATE_LIMIT_MESSAGES.get(policy, "You have reached your rate limit."),
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "category": "RATE_LIMITS",
    }


def server_error_body(status: int) -> dict[str, Any]:
    """A 5xx body as HubSpot's edge sends it (JSON; HTML pages come from the `body` fault option)."""
    return {
        "status": "error",
        "message": "internal error" if status == 500 else "Service temporarily unavailable",
        "correlationId": correlation_id(),
        "category": "INTERNAL_ERROR",
    }
