"""Failure and crash alerts: one e-mail per failed or crashed run, sent with prefect-email.

Attach `ALERT_HOOKS` to a flow:

    @flow(name=..., **ALERT_HOOKS)

`on_failure` runs in the flow-run process when the run ends Failed (including TimedOut);
`on_crashed` runs there for a crash the engine sees, or in the worker when the flow-run
process dies (SIGKILL, out of memory) — Prefect runs only one of the two per crash, and a
Failed run never also becomes Crashed, so each failed or crashed run sends one e-mail.
Skipped runs end Completed and runs cancelled by the deployment's concurrency limit end
Cancelled before any flow code runs: neither calls these hooks.

An alert that cannot be sent is logged at CRITICAL with the original error and never raises,
so the run's own failure (and its state) stays what the operator sees.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from typing import Any

from prefect.client.schemas.objects import FlowRun
from prefect.logging.loggers import flow_run_logger
from prefect.settings import PREFECT_UI_URL
from prefect.states import State
from prefect.utilities.urls import url_for
from prefect_email import EmailServerCredentials, email_send_message

from affiliate_sync.alerts import AlertFacts, alert_settings, classify, compose_alert, last_successful_sync
from affiliate_sync.logs import prefixed
from affiliate_sync.settings import LOG_PREFIX, Settings

SMTP_TIMEOUT_SECONDS = 60.0


def run_ui_url(flow_run: FlowRun) -> str | None:
    """The run's page in the Prefect UI, e.g. http://host:4200/runs/flow-run/<id>.

    Built with `prefect.utilities.urls.url_for` (the link the worker logs as "View at"); in
    Prefect 3.9 `prefect.runtime.flow_run.ui_url` still builds the older `/flow-runs/...`
    path. None when no UI URL is configured (a local run on Prefect's ephemeral API).
    """
    if not PREFECT_UI_URL.value():
        return None
    return url_for("flow-run", obj_id=flow_run.id)


async def email_credentials(settings: Settings) -> EmailServerCredentials | None:
    """Where alert mail goes out: the EmailServerCredentials block, else AFFILIATE_SMTP_* variables.

    The block is named by `AFFILIATE_EMAIL_BLOCK` (default `affiliate-sync-smtp`). Returns None
    when neither is configured.
    """
    try:
        return await EmailServerCredentials.aload(settings.affiliate_email_block)
    except ValueError:
        pass  # no such block: use the environment
    except Exception as exc:  # API unreachable: the environment may still work
        logging.getLogger("affiliate_sync.alerts").warning(
            "%s cannot load EmailServerCredentials block %r (%s); trying AFFILIATE_SMTP_* variables",
            LOG_PREFIX, settings.affiliate_email_block, exc,
        )
    if not settings.affiliate_smtp_host:
        return None
    fields: dict[str, Any] = {
        "smtp_server": settings.affiliate_smtp_host,
        "smtp_type": settings.affiliate_smtp_type,
        "smtp_port": settings.affiliate_smtp_port,
    }
    if settings.affiliate_smtp_username:
        fields["username"] = settings.affiliate_smtp_username
    if settings.affiliate_smtp_password is not None:
        fields["password"] = settings.affiliate_smtp_password.get_secret_value()
    return EmailServerCredentials(**fields)


async def send_failure_alert(flow: Any, flow_run: FlowRun, state: State) -> bool:
    """Compose and send the alert for this run; True when a message was handed to the SMTP server."""
    logger = prefixed(flow_run_logger(flow_run, flow))
    settings = alert_settings()
    if not settings.affiliate_alert_email_to:
        logger.warning(
            "Run ended %s but AFFILIATE_ALERT_EMAIL_TO is not set: no alert e-mail sent", state.name
        )
        return False

    error = state.result(raise_on_failure=False)
    if asyncio.iscoroutine(error):
        error = await error
    exc = error if isinstance(error, BaseException) else None
    code = classify(exc)
    message = str(state.message or "")
    if exc is not None and str(exc) and str(exc) not in message:
        message = f"{message}\n{type(exc).__name__}: {exc}".strip()

    credentials = await email_credentials(settings)
    if credentials is None:
        logger.critical(
            "ALERT NOT SENT for run %s (%s, %s): no EmailServerCredentials block %r and no AFFILIATE_SMTP_HOST",
            flow_run.name, state.name, code, settings.affiliate_email_block,
        )
        return False

    facts = AlertFacts(
        flow_name=getattr(flow, "name", None) or "unknown flow",
        flow_run_name=flow_run.name,
        flow_run_id=str(flow_run.id),
        state_name=state.name or state.type.value.title(),
        code=code,
        message=message,
        last_sync=last_successful_sync(settings.affiliate_cache_path),
        run_url=run_ui_url(flow_run),
        deployment=await _deployment_name(flow, flow_run),
        parameters=json.dumps(flow_run.parameters, default=str, sort_keys=True) if flow_run.parameters else None,
    )
    email = compose_alert(facts, secrets=_known_secrets(settings, credentials))
    sender = settings.affiliate_alert_email_from or credentials.username or f"affiliate-sync@{socket.getfqdn()}"
    send = email_send_message.fn(  # the task's coroutine: awaited, so the mail really goes out
        subject=email.subject,
        msg=email.html,
        msg_plain=email.text,
        email_server_credentials=credentials,
        email_from=sender,
        email_to=[a.strip() for a in settings.affiliate_alert_email_to.split(",") if a.strip()],
    )
    # prefect-email connects and logs in without a timeout, blocking its event loop: run it on
    # its own loop in a thread so a silent SMTP server cannot hang the hook (or the worker).
    await asyncio.wait_for(asyncio.to_thread(asyncio.run, send), timeout=SMTP_TIMEOUT_SECONDS)
    logger.info("Alert e-mail sent to %s: %s", settings.affiliate_alert_email_to, email.subject)
    return True


async def alert_on_failure(flow: Any, flow_run: FlowRun, state: State) -> None:
    """`on_failure` / `on_crashed` hook: send the alert; a failure to send is logged, never raised."""
    try:
        await send_failure_alert(flow, flow_run, state)
    except BaseException as exc:  # noqa: BLE001 - the run's own failure must stay what surfaces
        try:
            logger = prefixed(flow_run_logger(flow_run, flow))
        except Exception:
            logger = prefixed(logging.getLogger("affiliate_sync.alerts"))
        logger.critical(
            "ALERT NOT SENT for run %s (%s: %s): %s: %s. Check the SMTP settings (the "
            "EmailServerCredentials block or AFFILIATE_SMTP_*); the run's own failure stands.",
            flow_run.name, state.name, state.message, type(exc).__name__, exc,
        )
        if not isinstance(exc, Exception):
            raise


ALERT_HOOKS: dict[str, list[Any]] = {"on_failure": [alert_on_failure], "on_crashed": [alert_on_failure]}


async def _deployment_name(flow: Any, flow_run: FlowRun) -> str | None:
    if flow_run.deployment_id is None:
        return None
    try:
        from prefect.client.orchestration import get_client

        async with get_client() as client:
            deployment = await client.read_deployment(flow_run.deployment_id)
        return f"{getattr(flow, 'name', '?')}/{deployment.name}"
    except Exception:
        return f"deployment {flow_run.deployment_id}"


def _known_secrets(settings: Settings, credentials: EmailServerCredentials) -> list[str]:
    secrets: list[str] = []
    if settings.hubspot_api_token is not None:
        secrets.append(settings.hubspot_api_token.get_secret_value())
    if settings.affiliate_smtp_password is not None:
        secrets.append(settings.affiliate_smtp_password.get_secret_value())
    password = getattr(credentials, "password", None)
    if password is not None:
        secrets.append(password.get_secret_value())
    try:
        from flows.connections import hubspot_token

        secrets.append(hubspot_token(settings))
    except Exception:
        pass
    return [s for s in secrets if s and len(s) >= 4]

