"""A failed or crashed run e-mails ops once; skips send nothing; a dead SMTP server never hides the failure.

Every test runs the real flow on the session's Prefect test API, against the HubSpot simulator
over HTTP, and reads what a real SMTP server (aiosmtpd on 127.0.0.1) received.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogHandler

from affiliate_sync.cache import empty_cache
from affiliate_sync.files import file_lock
from affiliate_sync.hubspot import HubSpotAuthError
from affiliate_sync.settings import SKIP_MESSAGE, load_settings
from flows.alerts import ALERT_HOOKS
from flows.health import affiliate_health_check
from flows.sync import affiliate_hubspot_sync
from mail_sink import free_port

from tests.alerts.conftest import SMTP_PASSWORD, TOKEN

pytestmark = pytest.mark.usefixtures("prefect_harness")

LAST_SYNC = "2026-01-02T03:04:05+00:00"
QUIET = 0.3  # the hooks run before the flow call returns; this only guards against stragglers


def write_cache(path: Path, last_sync: datetime | str | None) -> None:
    cache = empty_cache()
    cache["last_sync"] = last_sync.isoformat(timespec="seconds") if isinstance(last_sync, datetime) else last_sync
    path.write_text(json.dumps(cache), encoding="utf-8")


def run_logs(flow_run_id) -> list[str]:
    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [f"{log.level} {log.message}" for log in logs]


def assert_no_secrets(text: str) -> None:
    assert TOKEN not in text
    assert SMTP_PASSWORD not in text


def test_hubspot_401_sends_one_email_with_code_message_last_sync_link_and_remediation(workdir, smtp, simulator):
    cache = workdir / "affiliate_hubspot_cache.json"
    write_cache(cache, LAST_SYNC)
    simulator.app.config.token = "the-token-hubspot-now-expects"  # the portal rotated it

    state = affiliate_hubspot_sync(return_state=True)

    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), HubSpotAuthError)
    [mail] = smtp.wait_for(1)
    time.sleep(QUIET)
    assert len(smtp.messages) == 1
    assert mail.recipients == ["ops@example.test"]
    assert mail.sender == "affiliate-sync@example.test"
    assert "[Affiliate Sync]" in mail.subject and "hubspot_auth" in mail.subject
    body = mail.text
    assert "Error code: hubspot_auth" in body
    assert "401" in body  # HubSpot's answer is in the error message
    assert f"Last successful sync: {LAST_SYNC}" in body
    run_id = str(state.state_details.flow_run_id)
    assert f"/runs/flow-run/{run_id}" in body
    assert "Remediation (hubspot_auth):" in body and "scopes" in body
    assert_no_secrets(mail.raw_text)
    assert "the-token-hubspot-now-expects" not in mail.raw_text


def test_missing_scope_403_alerts_without_the_valid_token(workdir, smtp, simulator):
    simulator.set_missing_scopes("crm.objects.deals.read")

    state = affiliate_hubspot_sync(return_state=True)

    assert state.is_failed()
    [mail] = smtp.wait_for(1)
    assert "hubspot_auth" in mail.subject
    assert "Last successful sync: never" in mail.text
    assert_no_secrets(mail.raw_text)  # the token HubSpot accepted is not in it either


def test_unwritable_cache_alerts_cache_write_failed(workdir, smtp, monkeypatch):
    # The cache's directory does not exist: nothing can be written there, even as root.
    cache = workdir / "gone" / "affiliate_hubspot_cache.json"
    monkeypatch.setenv("AFFILIATE_CACHE_PATH", str(cache))

    state = affiliate_hubspot_sync(return_state=True)

    assert state.is_failed()
    [mail] = smtp.wait_for(1)
    time.sleep(QUIET)
    assert len(smtp.messages) == 1
    assert "cache_write_failed" in mail.subject
    assert "Error code: cache_write_failed" in mail.text
    assert str(cache.parent) in mail.text
    assert "writable" in mail.text  # the remediation
    assert_no_secrets(mail.raw_text)


def test_invalid_registry_alerts_registry_invalid(workdir, smtp):
    (workdir / "affiliate_partners.json").write_text("{ not json", encoding="utf-8")

    state = affiliate_hubspot_sync(return_state=True)

    assert state.is_failed()
    [mail] = smtp.wait_for(1)
    assert "registry_invalid" in mail.subject
    assert "affiliate_partners.json" in mail.text
    assert_no_secrets(mail.raw_text)


def test_run_skipped_because_the_lock_is_held_sends_nothing(workdir, smtp):
    settings = load_settings()
    with file_lock(settings.lock_path, blocking=False):
        state = affiliate_hubspot_sync(force=True, return_state=True)

    assert state.is_completed() and state.name == "Skipped"
    assert state.message == SKIP_MESSAGE
    time.sleep(QUIET)
    assert smtp.messages == []


def test_manual_run_within_cooldown_is_skipped_with_reason_and_sends_nothing(workdir, smtp, simulator):
    write_cache(workdir / "affiliate_hubspot_cache.json", datetime.now(UTC) - timedelta(seconds=30))
    simulator.app.config.token = "would-fail-if-the-run-called-hubspot"

    state = affiliate_hubspot_sync(return_state=True)

    assert state.is_completed() and state.name == "Skipped"
    assert "cooldown" in state.message and "force=true" in state.message
    time.sleep(QUIET)
    assert smtp.messages == []


def test_forced_run_within_cooldown_runs(workdir, smtp, simulator):
    write_cache(workdir / "affiliate_hubspot_cache.json", datetime.now(UTC) - timedelta(seconds=30))
    simulator.app.config.token = "proves-the-run-reached-hubspot"

    state = affiliate_hubspot_sync(force=True, return_state=True)

    assert state.is_failed()  # it ran: HubSpot refused the token
    [mail] = smtp.wait_for(1)
    assert "hubspot_auth" in mail.subject


def test_smtp_down_keeps_the_original_failure_and_logs_loudly(workdir, smtp, simulator, monkeypatch):
    monkeypatch.setenv("AFFILIATE_SMTP_PORT", str(free_port()))  # nothing listens there
    simulator.app.config.token = "rotated"

    state = affiliate_hubspot_sync(return_state=True)

    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), HubSpotAuthError)
    assert "HubSpotAuthError" in state.message
    logs = run_logs(state.state_details.flow_run_id)
    loud = [line for line in logs if "ALERT NOT SENT" in line]
    assert loud and loud[0].startswith("50 ")  # CRITICAL
    assert "[Affiliate Sync]" in loud[0]
    assert smtp.messages == []


def test_no_alert_address_logs_a_warning_and_sends_nothing(workdir, smtp, simulator, monkeypatch):
    monkeypatch.delenv("AFFILIATE_ALERT_EMAIL_TO")
    simulator.app.config.token = "rotated"

    state = affiliate_hubspot_sync(return_state=True)

    assert state.is_failed()
    logs = run_logs(state.state_details.flow_run_id)
    assert any(line.startswith("30 ") and "AFFILIATE_ALERT_EMAIL_TO is not set" in line for line in logs)
    time.sleep(QUIET)
    assert smtp.messages == []


def test_invalid_configuration_still_alerts_config_invalid(workdir, smtp, monkeypatch):
    monkeypatch.setenv("HUBSPOT_WON_STAGES", " , ")

    state = affiliate_hubspot_sync(return_state=True)

    assert state.is_failed()
    [mail] = smtp.wait_for(1)
    assert "config_invalid" in mail.subject
    assert "HUBSPOT_WON_STAGES" in mail.text


def test_health_flow_fails_and_alerts_on_a_stale_cache(workdir, smtp):
    write_cache(workdir / "affiliate_hubspot_cache.json", datetime.now(UTC) - timedelta(hours=8))

    state = affiliate_health_check(return_state=True)

    assert state.is_failed()
    [mail] = smtp.wait_for(1)
    time.sleep(QUIET)
    assert len(smtp.messages) == 1
    assert "sync_stale" in mail.subject and "affiliate-health-check" in mail.subject
    assert "hourly" in mail.text  # remediation points at the hourly deployment


def test_health_flow_alerts_cache_invalid_on_a_corrupt_cache(workdir, smtp):
    (workdir / "affiliate_hubspot_cache.json").write_text('{"version": "1.0", "last_sy', encoding="utf-8")

    state = affiliate_health_check(return_state=True)

    assert state.is_failed()
    [mail] = smtp.wait_for(1)
    assert "cache_invalid" in mail.subject


def test_health_flow_warning_completes_without_email(workdir, smtp):
    write_cache(workdir / "affiliate_hubspot_cache.json", datetime.now(UTC) - timedelta(hours=3))

    state = affiliate_health_check(return_state=True)

    assert state.is_completed()
    assert state.result()["status"] == "warning"
    time.sleep(QUIET)
    assert smtp.messages == []


@flow(name="affiliate-crash-probe", **ALERT_HOOKS)
def crash_probe() -> None:
    raise SystemExit(3)  # a BaseException: Prefect reports the run Crashed, not Failed


def test_crashed_run_sends_one_email(workdir, smtp):
    with pytest.raises(SystemExit):
        crash_probe()

    [mail] = smtp.wait_for(1)
    time.sleep(QUIET)
    assert len(smtp.messages) == 1
    assert "Crashed" in mail.subject and "unexpected" in mail.subject
    assert "Remediation (unexpected):" in mail.text
