"""What the failure e-mail says (SPEC §6 alert), without Prefect: classification, remediation, text.

`flows/alerts.py` gathers the facts from the failed run and sends the message with prefect-email;
everything an operator reads is decided here so it can be tested and reviewed in one place.
The same remediation steps are in docs/RUNBOOK.md.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import create_model
from pydantic_settings import BaseSettings

from affiliate_sync.cache import read_cache
from affiliate_sync.errors import AffiliateSyncError, ErrorCode, error_code_of
from affiliate_sync.logs import redact
from affiliate_sync.settings import LOG_PREFIX, Settings, load_settings

SYNC_STALE = "sync_stale"  # raised only by the daily health check: the cache is missing or > 6 h old

REMEDIATION: dict[str, tuple[str, ...]] = {
    ErrorCode.HUBSPOT_AUTH: (
        "HubSpot refused the token (401 invalid/expired, or 403 missing scope; the message names the scope).",
        "In HubSpot: Settings > Integrations > Private apps > the affiliate app: check it still exists and has the "
        "scopes crm.objects.contacts.read, crm.objects.deals.read, crm.objects.custom.read, crm.objects.custom.write.",
        "If the token was rotated, store the new one in the Prefect Secret block 'hubspot-api-token' "
        "(UI: Blocks > hubspot-api-token > Edit, or deployments/setup.py --token-from-env). No redeploy needed.",
        "Check HUBSPOT_BASE_URL points at https://api.hubapi.com (not a simulator) on the worker.",
        "Re-run from the UI with force=true and watch the first log lines.",
    ),
    ErrorCode.HUBSPOT_RATE_LIMITED: (
        "HubSpot kept answering 429 after the client's retries (or the DAILY limit is spent).",
        "Find the portal's other API consumers (HubSpot: Settings > Integrations > Private apps > Logs / API call usage).",
        "If the policy in the message is DAILY, wait for the reset (midnight in the portal's time zone); the next "
        "hourly run catches up by itself.",
        "For SECONDLY / TEN_SECONDLY_ROLLING: lower HUBSPOT_SEARCH_REQUESTS_PER_SECOND or HUBSPOT_BURST_LIMIT "
        "(100 on Free/Starter portals) in the worker's environment.",
        "Nothing was overwritten: the dashboards keep the last good cache.",
    ),
    ErrorCode.HUBSPOT_UNAVAILABLE: (
        "HubSpot answered 5xx, timed out or dropped connections after all retries.",
        "Check https://status.hubspot.com and the worker host's outbound network / DNS / proxy.",
        "Usually transient: the next hourly run retries. Re-run from the UI with force=true once HubSpot is up.",
        "If it persists, raise HUBSPOT_TIMEOUT_SECONDS; the dashboards keep the last good cache meanwhile.",
    ),
    ErrorCode.HUBSPOT_EMPTY: (
        "HubSpot returned no contacts and no deals for any active partner while the cache holds data, so the "
        "job refused to overwrite the cache.",
        "Check the token belongs to the right portal (a sandbox or new portal is empty) and HUBSPOT_BASE_URL.",
        "Check the affiliate_partner_id property still exists on contacts and deals and was not renamed.",
        "If HubSpot really is empty on purpose, move the cache aside and re-run with force=true.",
    ),
    ErrorCode.HUBSPOT_REJECTED: (
        "HubSpot refused some partner level updates (per-record errors); cache and registry were written.",
        "Read the failing partners and HubSpot's reason in the run log.",
        "'beginner' not a valid option: run `affiliate-sync hubspot add-level-option` (try --dry-run first), or the "
        "affiliate-add-level-option deployment from the UI.",
        "Otherwise fix the partner record in HubSpot (deleted, duplicated partner_id) and let the next run retry.",
    ),
    ErrorCode.REGISTRY_INVALID: (
        "The partner registry (AFFILIATE_REGISTRY_PATH) could not be read or validated; nothing was written.",
        "The message names the file, the entry and the field. Fix the entry (or restore the file from backup).",
        "Check the worker's user can read and write the file and the directory (the lock <registry>.lock lives there).",
        "Validate with `python -m json.tool <registry>`, then re-run from the UI with force=true.",
    ),
    ErrorCode.CACHE_WRITE_FAILED: (
        "The dashboard cache (AFFILIATE_CACHE_PATH) could not be written; the previous file is intact.",
        "Check the directory exists, is writable by the worker's user (`ls -ld <dir>`), and the disk is not full (`df -h`).",
        "On Docker/Kubernetes pools: the shared volume / PVC must be mounted read-write in the flow-run container.",
        "Re-run from the UI with force=true.",
    ),
    ErrorCode.CACHE_INVALID: (
        "The dashboard cache exists but is unreadable, not JSON, or not version 1.0 (the message says which). "
        "The sync refuses to overwrite a file it cannot read, so it stops until the file is dealt with.",
        "Find out what wrote it: only this job should write the cache (another tool, a newer version of the job, "
        "a disk problem?).",
        "Move it aside (`mv <cache> <cache>.broken`), then run the hourly deployment from the UI with force=true.",
    ),
    ErrorCode.CONFIG_INVALID: (
        "The job's configuration is missing or invalid (the message names the variable).",
        "Fix the worker's environment (.env in the project directory or the systemd unit / job variables) or the "
        "Prefect blocks ('hubspot-api-token' Secret, 'affiliate-sync-smtp' EmailServerCredentials).",
        "Restart the worker after changing its environment, then re-run with force=true.",
    ),
    SYNC_STALE: (
        "The daily health check found the cache missing or older than 6 hours: the hourly sync has not succeeded.",
        "In the Prefect UI open deployment affiliate-hubspot-sync/hourly: look for failed runs (and their alerts), "
        "runs stuck in Late/Pending (no worker), or a paused schedule.",
        "Check the worker: `prefect work-pool inspect affiliate-sync`, `affiliate-sync verify-deployment`.",
        "Check AFFILIATE_CACHE_PATH is the same for the worker and the health check.",
    ),
    ErrorCode.UNEXPECTED: (
        "An error without a specific code (a bug, a crash, or the process was killed).",
        "Open the run link and read the traceback / the last log lines; for a Crashed run check the worker host "
        "(out of memory, restarted, disk full).",
        "Re-run from the UI with force=true; if it fails the same way, open an issue with the run link and the log.",
    ),
}


# What an alert needs from the configuration: enough to send mail and read the cache.
_ALERT_FIELDS = (
    "affiliate_alert_email_to",
    "affiliate_alert_email_from",
    "affiliate_smtp_host",
    "affiliate_smtp_port",
    "affiliate_smtp_type",
    "affiliate_smtp_username",
    "affiliate_smtp_password",
    "affiliate_email_block",
    "affiliate_cache_path",
    "hubspot_api_token",
    "hubspot_token_secret_block",
)


def alert_settings() -> Settings:
    """The settings an alert is sent with.

    Normally `load_settings()`. When the configuration is invalid (that may be the very failure
    being reported) only the mail and cache fields are read, each with its usual variable, so
    an invalid `HUBSPOT_WON_STAGES` still produces its `config_invalid` alert.
    """
    try:
        return load_settings()
    except AffiliateSyncError:
        fields = {
            name: (info.annotation, info) for name, info in Settings.model_fields.items() if name in _ALERT_FIELDS
        }
        values = create_model("AlertSettings", __base__=_SettingsBase, **fields)().model_dump()  # type: ignore[call-overload]
        values["affiliate_cache_path"] = Path(values["affiliate_cache_path"]).expanduser().absolute()
        return Settings.model_construct(**values)


class _SettingsBase(BaseSettings):
    model_config = Settings.model_config


def classify(exc: BaseException | None) -> str:
    """The alert code for a failure: the health check's refinement first, else the shared error code."""
    current, seen = exc, set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        refined = getattr(current, "alert_code", None)
        if isinstance(refined, str):
            return refined
        if isinstance(current, AffiliateSyncError):
            break
        current = current.__cause__ or current.__context__
    return str(error_code_of(exc)) if exc is not None else str(ErrorCode.UNEXPECTED)


def remediation(code: str) -> tuple[str, ...]:
    return REMEDIATION.get(code, REMEDIATION[ErrorCode.UNEXPECTED])


def last_successful_sync(cache_path: Path) -> str:
    """The cache's `last_sync`, as the e-mail shows it (never raises)."""
    try:
        cache = read_cache(cache_path)
    except AffiliateSyncError as exc:
        return f"unknown: {exc}"
    except Exception as exc:  # an alert must not fail on the cache
        return f"unknown: {type(exc).__name__}: {exc}"
    if not cache_path.exists():
        return f"never (no cache at {cache_path})"
    return str(cache.get("last_sync") or f"never (cache {cache_path} has no last_sync)")


@dataclass(frozen=True)
class AlertFacts:
    flow_name: str
    flow_run_name: str
    flow_run_id: str
    state_name: str  # Failed, Crashed, TimedOut …
    code: str
    message: str
    last_sync: str
    run_url: str | None
    deployment: str | None = None
    parameters: str | None = None


@dataclass(frozen=True)
class AlertEmail:
    subject: str
    text: str
    html: str


def compose_alert(facts: AlertFacts, secrets: Iterable[str | None] = ()) -> AlertEmail:
    """Subject and body (plain text and HTML); every known secret is replaced by `***`."""
    hidden = [s for s in secrets if s]
    clean = lambda text: redact(text, hidden)  # noqa: E731
    message = clean(facts.message.strip() or "(no message)")
    if len(message) > 4000:
        message = message[:4000] + " …(truncated; see the run log)"
    run = facts.deployment or facts.flow_name
    subject = clean(f"{LOG_PREFIX} {facts.state_name}: {facts.code} in {run} ({facts.flow_run_name})")
    steps = remediation(facts.code)
    link = facts.run_url or f"(no Prefect UI URL configured; flow run id {facts.flow_run_id})"
    rows = [
        ("Error code", facts.code),
        ("State", facts.state_name),
        ("Flow", facts.flow_name),
        ("Deployment", facts.deployment or "(none: started outside a deployment)"),
        ("Flow run", f"{facts.flow_run_name} ({facts.flow_run_id})"),
        ("Parameters", facts.parameters or "{}"),
        ("Last successful sync", facts.last_sync),
        ("Run link", link),
    ]
    text_lines = [
        f"{LOG_PREFIX} The run {facts.flow_run_name} of {run} ended {facts.state_name}.",
        "",
        "Error message:",
        f"  {message}",
        "",
        *(f"{label}: {clean(value)}" for label, value in rows),
        "",
        f"Remediation ({facts.code}):",
        *(f"  {n}. {step}" for n, step in enumerate(steps, 1)),
        "",
        "Runbook: docs/RUNBOOK.md, section 'Remediation by error code'.",
    ]
    e = html.escape
    html_rows = "".join(f"<tr><th align='left'>{e(label)}</th><td>{e(clean(value))}</td></tr>" for label, value in rows)
    if facts.run_url:
        html_rows = html_rows.replace(e(facts.run_url), f"<a href='{e(facts.run_url)}'>{e(facts.run_url)}</a>")
    html_body = (
        f"<p>{e(LOG_PREFIX)} The run <b>{e(facts.flow_run_name)}</b> of <b>{e(run)}</b> ended "
        f"<b>{e(facts.state_name)}</b>.</p>"
        f"<p><b>Error message:</b></p><pre>{e(message)}</pre>"
        f"<table>{html_rows}</table>"
        f"<p><b>Remediation ({e(facts.code)}):</b></p><ol>{''.join(f'<li>{e(s)}</li>' for s in steps)}</ol>"
        "<p>Runbook: docs/RUNBOOK.md, section 'Remediation by error code'.</p>"
    )
    return AlertEmail(
        subject=subject, text=_fold("\n".join(text_lines) + "\n"), html=_fold(html_body.replace("</", "\n</"))
    )


def _fold(text: str, width: int = 900) -> str:
    """Keep every line under SMTP's 998-character limit (RFC 5321 §4.5.3.1.6): prefect-email
    sends ASCII bodies as 7bit, and servers reject longer lines ("Line too long")."""
    lines: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
        else:
            lines.extend(textwrap.wrap(line, width=width, break_long_words=True, break_on_hyphens=False,
                                       drop_whitespace=False, replace_whitespace=False) or [""])
    return "\n".join(lines)
