"""Secrets: the leak guard every scenario runs under (conftest `world`) is itself tested here, and
a token HubSpot rejects — the one most likely to be quoted in an error — never surfaces either."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from .conftest import World
from .reliability_support import REJECTED_TOKEN, TOKEN, LeakGuard, SmtpSink

from affiliate_sync.errors import ErrorCode, error_code_of


def test_the_leak_guard_finds_a_token_in_each_place_it_looks(
    prefect_harness: None, smtp: SmtpSink, tmp_path: Path
) -> None:
    """Plant the token in a Prefect log, an artifact, an e-mail, a file and a process output:
    the guard must report every one (a guard that cannot see is no proof)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate, LogCreate

    guard = LeakGuard(started=datetime.now(UTC), mail_index=len(smtp.messages))
    with get_client(sync_client=True) as client:
        client.create_logs([LogCreate(name="planted", level=40, message=f"oops {TOKEN}", timestamp=datetime.now(UTC))])
        client.create_artifact(ArtifactCreate(key="planted-artifact", type="markdown", data=f"token: {TOKEN}"))
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = "planted", "a@example.test", "b@example.test"
    message.set_content(f"the token is {TOKEN}")
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as server:
        server.send_message(message)
    (tmp_path / ".affiliate_hubspot_cache.json.x1y2.tmp").write_text(TOKEN)
    guard.add("planted stdout", f"Authorization: Bearer {TOKEN}")

    guard.collect_prefect()
    guard.collect_mail(smtp)
    guard.collect_files(tmp_path)
    found = " | ".join(guard.leaks())

    for place in ("prefect log (planted)", "artifact planted-artifact", "e-mail 'planted'",
                  "file .affiliate_hubspot_cache.json.x1y2.tmp", "planted stdout"):
        assert place in found, f"the guard missed the token in: {place}"


def test_a_token_hubspot_rejects_never_leaks(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The portal rotated its token; the job still sends the old one (a second canary)."""
    monkeypatch.setenv("HUBSPOT_API_TOKEN", REJECTED_TOKEN)
    state = world.run_flow()
    assert state.is_failed()
    assert error_code_of(state.result(raise_on_failure=False)) is ErrorCode.HUBSPOT_AUTH
    world.assert_untouched()
    [mail] = world.mails()
    assert "Error code: hubspot_auth" in mail.text
    # the world's leak guard (teardown) scans logs, artifacts, states, the e-mail and files for both tokens
