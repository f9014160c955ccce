"""The ops tools as Prefect flows, for operators who work from the Prefect UI (SPEC §6).

Same parameters as the commands (`affiliate-sync hubspot add-level-option`, `backfill-beginner`,
`hubspot set-level`, `diagnose`, `validate`), same domain code. Two differences, on purpose:

* the maintenance flows default to `dry_run=True`: in the UI one click runs a flow, so the
  safe run is the default and writing is a deliberate untick (the CLI has `--dry-run`);
* the token comes from the Prefect Secret block, else HUBSPOT_API_TOKEN
  (`flows.connections.hubspot_client`).

Each run logs every change with the `[Affiliate Sync]` prefix and leaves a markdown artifact.
A maintenance flow fails when HubSpot refuses writes; diagnose and validate complete with
their verdict in the result, the log and the artifact (they report, they do not alert).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from affiliate_sync import diagnose as diagnose_tool
from affiliate_sync import maintenance
from affiliate_sync import validate as validate_tool
from affiliate_sync.errors import AffiliateSyncError, HubSpotRejectedError
from affiliate_sync.logs import prefixed
from affiliate_sync.settings import load_settings
from flows.connections import hubspot_client

LevelName = Literal["beginner", "starter", "partner", "pro"]


def _publish(key: str, title: str, lines: list[str], payload: dict[str, Any]) -> None:
    body = "\n".join(f"- {line}" for line in lines) or "- nothing to report"
    create_markdown_artifact(
        key=key,
        markdown=f"# {title}\n\n{body}\n\n<details><summary>JSON</summary>\n\n```json\n"
        f"{json.dumps(payload, indent=2, ensure_ascii=False)}\n```\n</details>",
        description=title,
    )


def _log_lines(lines: list[str]) -> None:
    logger = prefixed(get_run_logger())
    for line in lines:
        logger.info("%s", line)


@flow(name="affiliate-add-level-option", description="Make HubSpot's partner `level` enumeration contain `beginner`.")
def add_level_option_flow(dry_run: bool = True) -> dict[str, Any]:
    """Add the `beginner` option to the partner object's `level` property (idempotent).

    Args:
        dry_run: only read the property and show the diff; write nothing.
    """
    settings = load_settings()
    with hubspot_client(settings) as client:
        result = maintenance.add_level_option(client, settings.hubspot_partner_object_type, dry_run=dry_run)
    payload = result.model_dump(mode="json")
    _log_lines(result.lines())
    _publish("affiliate-add-level-option", "Level option" + (" (dry run)" if dry_run else ""), result.lines(), payload)
    return payload


@flow(name="affiliate-backfill-beginner", description="Set level beginner in the registry for pending and never-won starter partners.")
def backfill_beginner_flow(dry_run: bool = True, won_deals_from: Literal["hubspot", "cache"] = "hubspot") -> dict[str, Any]:
    """Backfill `level: beginner` in the registry (under its lock; other fields untouched).

    Args:
        dry_run: only show each change; write nothing.
        won_deals_from: where "never had a won deal" is read — `hubspot` (live deal scan, every
            partner) or `cache` (the last sync; partners not in it are skipped).
    """
    settings = load_settings()
    won = maintenance.load_won_deals(settings, won_deals_from, lambda: hubspot_client(settings))
    result = maintenance.backfill_beginner(settings.affiliate_registry_path, won, dry_run=dry_run)
    payload = result.model_dump(mode="json")
    _log_lines(result.lines())
    _publish("affiliate-backfill-beginner", "Backfill beginner" + (" (dry run)" if dry_run else ""), result.lines(), payload)
    return payload


@flow(name="affiliate-set-level", description="Set level and MRR share on HubSpot partner records, by id or all.")
def set_level_flow(
    level: LevelName,
    partner_ids: list[str] | None = None,
    all_records: bool = False,
    dry_run: bool = True,
) -> dict[str, Any]:
    """Set `level` and its MRR share on HubSpot partner records.

    Args:
        level: beginner, starter, partner or pro; the share comes from the level policy.
        partner_ids: the partners whose records to set (AP-…); leave empty with `all_records`.
        all_records: every partner record in HubSpot, including ones not in the registry.
        dry_run: only read and show what would change; write nothing.
    """
    settings = load_settings()
    with hubspot_client(settings) as client:
        result = maintenance.set_level(
            client, settings.hubspot_partner_object_type, level, settings.affiliate_levels,
            partner_ids=partner_ids or (), all_records=all_records, dry_run=dry_run,
        )
    payload = result.model_dump(mode="json")
    _log_lines(result.lines())
    _publish("affiliate-set-level", f"Set level {level}" + (" (dry run)" if dry_run else ""), result.lines(), payload)
    if result.not_found:
        prefixed(get_run_logger()).warning("Not found in HubSpot: %s", ", ".join(result.not_found))
    if result.failed:
        raise HubSpotRejectedError(
            f"HubSpot refused {len(result.failed)} update(s): "
            + "; ".join(f"{key}: {why}" for key, why in sorted(result.failed.items())[:5])
        )
    return payload


@flow(name="affiliate-diagnose-partner", description="Explain what one partner's dashboard shows.")
def diagnose_flow(partner_id: str, dashboard_cache_path: str | None = None) -> dict[str, Any]:
    """Diagnose one partner: registry, paths, live HubSpot counts, cache; a summary and advice.

    Args:
        partner_id: AP-<8 digits>-<6 characters>.
        dashboard_cache_path: the file the dashboards read, when set apart from the sync's.
    """
    settings = load_settings()
    client = None
    setup_error: AffiliateSyncError | None = None
    try:
        client = hubspot_client(settings)
    except AffiliateSyncError as exc:
        setup_error = exc
    try:
        report = diagnose_tool.diagnose(
            settings, partner_id, client,
            dashboard_cache_path=Path(dashboard_cache_path) if dashboard_cache_path else None,
            hubspot_setup_error=setup_error,
        )
    finally:
        if client is not None:
            client.close()
    payload = report.as_json()
    logger = prefixed(get_run_logger())
    (logger.info if report.ok else logger.warning)("Diagnose %s: %s — %s", report.partner_id, report.summary.value, report.diagnosis.message)
    create_markdown_artifact(
        key="affiliate-diagnose-partner",
        markdown=f"```\n{diagnose_tool.render_text(report)}\n```",
        description=f"{report.partner_id}: {report.summary.value}",
    )
    return payload


@flow(name="affiliate-validate", description="Check cache and registry (optionally HubSpot) for inconsistencies.")
def validate_flow(hubspot: bool = False) -> dict[str, Any]:
    """Validate the cached figures and attributions.

    Args:
        hubspot: also scan HubSpot's attributed contacts and deals (every partner, unknown ids).
    """
    settings = load_settings()
    if hubspot:
        with hubspot_client(settings) as client:
            report = validate_tool.validate(settings, client)
    else:
        report = validate_tool.validate(settings)
    logger = prefixed(get_run_logger())
    if report.clean:
        logger.info("Validate: clean")
    else:
        logger.warning("Validate: %d finding(s): %s", len(report.findings),
                       ", ".join(f"{k} {v}" for k, v in report.counts.items() if v))
    create_markdown_artifact(
        key="affiliate-validate",
        markdown=f"```\n{validate_tool.render_text(report)}\n```",
        description="clean" if report.clean else f"{len(report.findings)} finding(s)",
    )
    return report.as_json()
