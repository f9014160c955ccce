"""The ops tools on the command line: `diagnose`, `validate`, `backfill-beginner`, and the
`hubspot` group (`add-level-option`, `set-level`). Registered in `flows/cli.py`.

The logic lives in `affiliate_sync.{diagnose,validate,maintenance}`; these functions parse
options, build a client, render, and pick the exit code. The CLI reads the token from
HUBSPOT_API_TOKEN (or `.env`) only; the Prefect flows in `flows/maintenance.py` also read
the Secret block. Nothing here prints the token.

Exit codes: 0 done / ok / clean; 1 error (or diagnose not ok, or HubSpot refused writes);
2 findings (validate) or ids not found (set-level).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from affiliate_sync import diagnose as diagnose_tool
from affiliate_sync import maintenance
from affiliate_sync import validate as validate_tool
from affiliate_sync.errors import AffiliateSyncError
from affiliate_sync.hubspot import HubSpotClient
from affiliate_sync.settings import LEVELS, LOG_PREFIX, Settings, load_settings

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_FINDINGS = 2

hubspot_app = typer.Typer(
    help="One-off maintenance of HubSpot's partner object (each with --dry-run).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON document (stable keys) instead of text.")
DRY_RUN_OPTION = typer.Option(False, "--dry-run", help="Only read and show what would change; write nothing anywhere.")


@contextmanager
def _errors_exit() -> Iterator[None]:
    """An operator-facing failure becomes one prefixed line on stderr and exit 1, never a traceback."""
    try:
        yield
    except AffiliateSyncError as exc:
        typer.echo(f"{LOG_PREFIX} error: [{exc.code}] {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None


def _client(settings: Settings) -> HubSpotClient:
    return HubSpotClient.from_settings(settings)


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        typer.echo(f"{LOG_PREFIX} {line}")


def _emit(as_json: bool, payload: dict[str, Any], render: Callable[[], list[str]]) -> None:
    if as_json:
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        _echo_lines(render())


# =============================================================================== diagnose


def diagnose(
    partner_id: str = typer.Option(..., "--partner-id", help="The partner id, AP-<8 digits>-<6 characters>."),
    as_json: bool = JSON_OPTION,
    dashboard_cache_path: Path | None = typer.Option(
        None,
        "--dashboard-cache-path",
        help="The cache file the dashboards read, when configured apart from AFFILIATE_CACHE_PATH "
        f"(default: ${diagnose_tool.DASHBOARD_CACHE_ENV}, else the sync's path).",
    ),
) -> None:
    """Explain what one partner's dashboard shows (exit 0 for ok, 1 otherwise)."""
    with _errors_exit():
        settings = load_settings()
        client: HubSpotClient | None = None
        setup_error: AffiliateSyncError | None = None
        try:
            client = _client(settings)
        except AffiliateSyncError as exc:  # no token: still diagnose everything else
            setup_error = exc
        try:
            report = diagnose_tool.diagnose(
                settings, partner_id, client, dashboard_cache_path=dashboard_cache_path, hubspot_setup_error=setup_error
            )
        finally:
            if client is not None:
                client.close()
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        typer.echo(diagnose_tool.render_text(report))
    raise typer.Exit(EXIT_OK if report.ok else EXIT_ERROR)


# =============================================================================== validate


def validate(
    as_json: bool = JSON_OPTION,
    hubspot: bool = typer.Option(
        False, "--hubspot", help="Also scan HubSpot's attributed contacts and deals (all partners, unknown ids)."
    ),
) -> None:
    """Check the cache and registry for inconsistencies (exit 0 clean, 2 findings, 1 error)."""
    with _errors_exit():
        settings = load_settings()
        if hubspot:
            with _client(settings) as client:
                report = validate_tool.validate(settings, client)
        else:
            report = validate_tool.validate(settings)
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    else:
        typer.echo(validate_tool.render_text(report))
    raise typer.Exit(EXIT_OK if report.clean else EXIT_FINDINGS)


# =============================================================================== maintenance


def backfill_beginner(
    dry_run: bool = DRY_RUN_OPTION,
    won_deals_from: str = typer.Option(
        "hubspot",
        "--won-deals-from",
        help="Where 'never had a won deal' is read: hubspot (live scan, every partner) or cache "
        "(last sync, active partners only; others are skipped).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Set level beginner in the registry for pending_verification and never-won starter partners."""
    with _errors_exit():
        if won_deals_from not in ("hubspot", "cache"):
            raise typer.BadParameter("must be 'hubspot' or 'cache'", param_hint="--won-deals-from")
        settings = load_settings()
        won = maintenance.load_won_deals(settings, won_deals_from, lambda: _client(settings))  # type: ignore[arg-type]
        result = maintenance.backfill_beginner(settings.affiliate_registry_path, won, dry_run=dry_run)
    _emit(as_json, result.model_dump(mode="json"), result.lines)


@hubspot_app.command("add-level-option")
def add_level_option(dry_run: bool = DRY_RUN_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Make HubSpot's partner `level` enumeration contain `beginner` (idempotent; shows the diff)."""
    with _errors_exit():
        settings = load_settings()
        with _client(settings) as client:
            result = maintenance.add_level_option(client, settings.hubspot_partner_object_type, dry_run=dry_run)
    _emit(as_json, result.model_dump(mode="json"), result.lines)


@hubspot_app.command("set-level")
def set_level(
    partner_ids: list[str] = typer.Argument(None, help="Partner ids (AP-…) whose HubSpot records to set.", show_default=False),
    level: str = typer.Option(..., "--level", help=f"One of {', '.join(LEVELS)}."),
    all_records: bool = typer.Option(False, "--all", help="Every partner record in HubSpot, registered or not."),
    dry_run: bool = DRY_RUN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Set level and its MRR share on HubSpot partner records (exit 2 when some ids are not found)."""
    with _errors_exit():
        if level not in LEVELS:
            raise typer.BadParameter(f"must be one of {', '.join(LEVELS)}", param_hint="--level")
        if all_records == bool(partner_ids):
            raise typer.BadParameter("name partner ids or pass --all (not both)", param_hint="PARTNER_IDS / --all")
        settings = load_settings()
        with _client(settings) as client:
            result = maintenance.set_level(
                client, settings.hubspot_partner_object_type, level, settings.affiliate_levels,
                partner_ids=partner_ids or (), all_records=all_records, dry_run=dry_run,
            )
    _emit(as_json, result.model_dump(mode="json"), result.lines)
    if result.failed:
        raise typer.Exit(EXIT_ERROR)
    if result.not_found:
        raise typer.Exit(EXIT_FINDINGS)
