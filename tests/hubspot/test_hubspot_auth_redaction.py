"""401/403 fail fast with useful messages; the token never shows in logs, errors or reprs."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from affiliate_sync.errors import ErrorCode, error_code_of
from affiliate_sync.hubspot import (
    HubSpotAuthError,
    HubSpotClient,
    HubSpotRequestError,
    HubSpotUnavailableError,
    redact,
)
from affiliate_sync.settings import LOG_PREFIX, Settings
from affiliate_sync.simulator.server import SimulatorServer


def test_401_fails_fast_with_one_call(sim: SimulatorServer, make_client: Callable) -> None:
    client = make_client(token="wrong-token-123")

    with pytest.raises(HubSpotAuthError) as caught:
        client.verify_token()

    error = caught.value
    assert error.code is ErrorCode.HUBSPOT_AUTH and error_code_of(error) is ErrorCode.HUBSPOT_AUTH
    assert error.status == 401 and error.category == "INVALID_AUTHENTICATION"
    assert error.correlation_id and error.correlation_id in str(error)
    assert "Authentication credentials not found" in str(error)
    assert "HUBSPOT_API_TOKEN" in str(error)
    assert client.stats.total_calls == 1 and client.stats.retries == {}
    assert sim.stats.count() == 1


def test_403_names_the_missing_scope(sim: SimulatorServer, make_client: Callable) -> None:
    sim.set_missing_scopes("crm.objects.deals.read")
    client = make_client()

    assert client.count("contacts") == 0
    with pytest.raises(HubSpotAuthError) as caught:
        client.scan_attributed("deals", ["dealname"])

    error = caught.value
    assert error.status == 403 and error.category == "MISSING_SCOPES"
    assert error.missing_scopes == ("crm.objects.deals.read",)
    assert "crm.objects.deals.read" in str(error)
    assert "required scopes" in str(error) and error.correlation_id in str(error)
    assert client.stats.calls["search:deals"] == 1


def test_injected_403_on_a_write(sim: SimulatorServer, make_client: Callable) -> None:
    sim.inject(kind="status", status=403, endpoint="batch_update", missing_scope="crm.objects.custom.write")
    client = make_client()

    with pytest.raises(HubSpotAuthError, match=r"crm\.objects\.custom\.write"):
        client.batch_update("2-197867933", [{"id": "1", "properties": {"level": "pro"}}])


def test_token_never_appears_in_logs_errors_or_repr(
    sim: SimulatorServer, make_client: Callable, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(max_retries=1)
    echo = json.dumps({"status": "error", "message": f"bad header Bearer {token} ({token})", "category": "VALIDATION_ERROR"})
    sim.inject(kind="status", status=400, endpoint="search", body=echo)
    sim.inject(kind="status", status=500, endpoint="batch_read", count=5, body=echo)
    errors: list[Exception] = []

    with pytest.raises(HubSpotRequestError) as first:
        client.count("contacts")
    errors.append(first.value)
    with pytest.raises(HubSpotUnavailableError) as second:
        client.batch_read("contacts", ["1"], properties=["email"])
    errors.append(second.value)
    wrong = make_client(token=token[::-1])
    with pytest.raises(HubSpotAuthError) as third:
        wrong.count("contacts")
    errors.append(third.value)

    texts = [str(e) for e in errors] + [repr(e) for e in errors] + [repr(client), repr(client.stats), caplog.text]
    for text in texts:
        assert token not in text
        assert token[::-1] not in text
    assert "***" in str(errors[0]) and "***" in str(errors[1])
    ours = [r for r in caplog.records if r.name == "affiliate_sync.hubspot"]
    assert ours and all(r.getMessage().startswith(LOG_PREFIX) for r in ours)
    assert any(r.levelno == logging.WARNING and "retrying" in r.getMessage() for r in ours)


def test_redact_masks_token_and_bearer_values() -> None:
    assert redact("token abc123 and abc123", ["abc123"]) == "token *** and ***"
    assert redact("Authorization: Bearer xyz.987") == "Authorization: Bearer ***"
    assert redact("pat-na1-11112222-3333-4444-5555-666677778888 leaked") == "*** leaked"
    assert redact("nothing secret", ["", "abc"]) == "nothing secret"


def test_from_settings_uses_settings_and_requires_a_token(sim: SimulatorServer) -> None:
    settings = Settings(hubspot_api_token="sim-secret-7d41c0ffee5b9e", hubspot_base_url=sim.url + "/", hubspot_max_retries=2)
    with HubSpotClient.from_settings(settings, search_per_second=50.0) as client:
        assert client.retry_policy.max_retries == 2
        assert client.base_url == sim.url
        assert client.verify_token()
        assert "sim-secret" not in repr(client)
    from affiliate_sync.errors import ConfigError

    with pytest.raises(ConfigError, match="HUBSPOT_API_TOKEN"):
        HubSpotClient.from_settings(Settings(hubspot_api_token=None))
