"""`diagnose`: why does one partner's dashboard look wrong? (SPEC §6)

Follows the partner's data the way it travels — registry → paths → HubSpot → sync → cache —
collects every finding on the way, and names one summary, the first failing check in this
precedence (each earlier one makes the later ones moot or unexplainable):

1. `partner_not_in_registry`: the sync only fetches registry partners (an unreadable registry
   counts too: the sync cannot see anyone).
2. `cache_path_mismatch`: the dashboard reads another file than the sync writes, so nothing
   the sync does reaches the partner.
3. `hubspot_api_error`: HubSpot could not be asked (no token, bad token, outage), so whether
   the partner has data is unknown.
4. `hubspot_empty`: HubSpot has no contact and no deal for the partner: an empty dashboard
   is correct, the records need attributing in HubSpot.
5. `sync_not_populating_cache`: HubSpot has data, the cache lacks it (partner not active,
   cache missing/corrupt, partner absent, counts behind and the last sync stale).
6. `ok`.

Pure domain logic (no Prefect): the CLI and the Prefect flow both render `DiagnoseReport`.
The token is never part of the report; `token_verified` is all it says about it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from affiliate_sync.attribution import normalise_partner_id
from affiliate_sync.cache import read_cache
from affiliate_sync.errors import AffiliateSyncError, CacheError, RegistryError, error_code_of
from affiliate_sync.money import won_deals_table
from affiliate_sync.registry import STATUSES, Registry, load_registry
from affiliate_sync.settings import CONTACT_PROPERTIES, DEAL_PROPERTIES, Settings

# The dashboard side's cache path, when it is configured apart from the sync's.
DASHBOARD_CACHE_ENV = "AFFILIATE_DASHBOARD_CACHE_PATH"
# Same threshold as the health check's warning (SPEC §6): older than this the sync is not running.
STALE_AFTER_HOURS = 2.0
PARTNER_RECORD_PROPERTIES = ("partner_id", "level", "mrr_share_percent", "status")


class Summary(StrEnum):
    OK = "ok"
    PARTNER_NOT_IN_REGISTRY = "partner_not_in_registry"
    CACHE_PATH_MISMATCH = "cache_path_mismatch"
    HUBSPOT_API_ERROR = "hubspot_api_error"
    HUBSPOT_EMPTY = "hubspot_empty"
    SYNC_NOT_POPULATING_CACHE = "sync_not_populating_cache"


# Lower index wins when several checks fail (see the module docstring for why).
PRECEDENCE: tuple[Summary, ...] = (
    Summary.PARTNER_NOT_IN_REGISTRY,
    Summary.CACHE_PATH_MISMATCH,
    Summary.HUBSPOT_API_ERROR,
    Summary.HUBSPOT_EMPTY,
    Summary.SYNC_NOT_POPULATING_CACHE,
)


class PartnerLookupApi(Protocol):
    """The HubSpot calls diagnose makes (HubSpotClient satisfies it)."""

    def verify_token(self) -> bool: ...

    def search_partner(
        self, object_type: str, partner_id: str, properties: Sequence[str], partner_property: str = ...
    ) -> list[dict[str, Any]]: ...

    def batch_read(
        self, object_type: str, ids: Sequence[str], *, properties: Sequence[str], id_property: str | None = None
    ) -> Any: ...


class RegistrySection(BaseModel):
    path: str
    readable: bool
    error: str | None = None
    in_registry: bool = False
    partner_id: str | None = None
    name: str | None = None
    status: str | None = None
    level: str | None = None
    hubspot_record_id: str | None = None
    totals: dict[str, int] = Field(default_factory=dict)


class PathsSection(BaseModel):
    registry_path: str
    registry_readable: bool
    registry_writable: bool
    cache_path: str  # where the sync writes
    cache_exists: bool
    cache_readable: bool
    cache_writable: bool  # the sync replaces the file, so its directory must be writable
    lock_path: str
    dashboard_cache_path: str  # where the dashboards read
    dashboard_cache_source: str  # the option, the env var, or "assumed same as the sync's"
    dashboard_cache_exists: bool
    same_cache: bool


class HubSpotSection(BaseModel):
    base_url: str
    token_configured: bool
    token_verified: bool
    contact_count: int | None = None
    deal_count: int | None = None
    won_deal_count: int | None = None
    partner_record_found: bool | None = None
    partner_record_id: str | None = None
    partner_record_level: str | None = None
    error: str | None = None
    error_code: str | None = None


class CacheSection(BaseModel):
    path: str
    exists: bool
    valid: bool
    error: str | None = None
    version: str | None = None
    last_sync: str | None = None
    age_hours: float | None = None
    partners_total: int = 0
    partner_present: bool = False
    contact_count: int | None = None
    deal_count: int | None = None
    level: str | None = None
    total_mrr: float | None = None


class Finding(BaseModel):
    """One failing check; `summary` None marks a note that does not change the verdict."""

    summary: Summary | None
    message: str


class Diagnosis(BaseModel):
    summary: Summary
    message: str
    findings: list[Finding] = Field(default_factory=list)


class DiagnoseReport(BaseModel):
    """The stable JSON of `affiliate-sync diagnose --json` (keys may be added, never renamed)."""

    partner_id: str
    checked_at: str
    summary: Summary
    registry: RegistrySection
    paths: PathsSection
    hubspot: HubSpotSection
    cache: CacheSection
    diagnosis: Diagnosis
    recommendations: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.summary is Summary.OK

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# ------------------------------------------------------------------------------- sections


def check_registry(path: Path, partner_id: str) -> tuple[RegistrySection, Registry | None]:
    section = RegistrySection(path=str(path), readable=False)
    try:
        registry = load_registry(path)
    except RegistryError as exc:
        section.error = str(exc)
        return section, None
    section.readable = True
    section.totals = {"partners": len(registry.partners)} | {
        status: sum(1 for p in registry.partners if p.status == status) for status in STATUSES
    }
    partner = registry.find(partner_id)
    if partner is not None:
        section.in_registry = True
        section.partner_id = partner.partner_id
        section.name = partner.name
        section.status = partner.status
        section.level = partner.level
        section.hubspot_record_id = partner.hubspot_record_id
    return section, registry


def check_paths(settings: Settings, dashboard_cache_path: Path | None, dashboard_source: str) -> PathsSection:
    registry_path = settings.affiliate_registry_path
    cache_path = settings.affiliate_cache_path
    reader = (dashboard_cache_path or cache_path).expanduser().absolute()
    return PathsSection(
        registry_path=str(registry_path),
        registry_readable=_readable(registry_path),
        registry_writable=_replaceable(registry_path),
        cache_path=str(cache_path),
        cache_exists=cache_path.exists(),
        cache_readable=_readable(cache_path),
        cache_writable=_replaceable(cache_path),
        lock_path=str(settings.lock_path),
        dashboard_cache_path=str(reader),
        dashboard_cache_source=dashboard_source,
        dashboard_cache_exists=reader.exists(),
        same_cache=_same_file(reader, cache_path),
    )


def check_hubspot(
    api: PartnerLookupApi | None,
    settings: Settings,
    partner_id: str,
    *,
    token_configured: bool,
    setup_error: BaseException | None = None,
) -> HubSpotSection:
    """Live counts for the partner; any failure is recorded, never raised."""
    section = HubSpotSection(
        base_url=settings.hubspot_base_url, token_configured=token_configured, token_verified=False
    )
    if api is None:
        if setup_error is not None:
            section.error, section.error_code = str(setup_error), str(error_code_of(setup_error))
        return section
    try:
        section.token_verified = api.verify_token()
        contacts = api.search_partner("contacts", partner_id, CONTACT_PROPERTIES)
        deals = api.search_partner("deals", partner_id, DEAL_PROPERTIES)
        section.contact_count, section.deal_count = len(contacts), len(deals)
        section.won_deal_count = len(won_deals_table({partner_id: deals}, settings.hubspot_won_stages))
        record = _partner_record(api, settings.hubspot_partner_object_type, partner_id)
        section.partner_record_found = record is not None
        if record is not None:
            section.partner_record_id = str(record["id"])
            section.partner_record_level = (record.get("properties") or {}).get("level")
    except AffiliateSyncError as exc:
        section.error, section.error_code = str(exc), str(exc.code)
    return section


def check_cache(path: Path, partner_id: str, now: datetime) -> CacheSection:
    section = CacheSection(path=str(path), exists=path.exists(), valid=False)
    try:
        cache = read_cache(path)
    except CacheError as exc:
        section.error = str(exc)
        return section
    if not section.exists:
        return section
    section.valid = True
    section.version = cache.get("version")
    section.partners_total = len(cache.get("partners") or {})
    last_sync = cache.get("last_sync")
    if last_sync:
        section.last_sync = str(last_sync)
        age = _age_hours(str(last_sync), now)
        section.age_hours = None if age is None else round(age, 2)
    entry = (cache.get("partners") or {}).get(partner_id)
    if entry is not None:
        section.partner_present = True
        section.contact_count = len((cache.get("leads") or {}).get(partner_id) or [])
        section.deal_count = len((cache.get("deals") or {}).get(partner_id) or [])
        section.level = entry.get("level")
        total = ((cache.get("mrr_summary") or {}).get(partner_id) or {}).get("total_mrr")
        section.total_mrr = float(total) if isinstance(total, (int, float)) else None
    return section


# ------------------------------------------------------------------------------- verdict


Advised = tuple[Finding, list[str]]


def _finding(summary: Summary | None, message: str, *advice: str) -> Advised:
    return Finding(summary=summary, message=message), list(advice)


def findings_for(
    registry: RegistrySection, paths: PathsSection, hubspot: HubSpotSection, cache: CacheSection
) -> list[Advised]:
    """Every failing check with its recommendations, in precedence order, then the notes."""
    return [
        *_registry_findings(registry),
        *_path_findings(paths),
        *_hubspot_findings(hubspot),
        *_sync_findings(registry, hubspot, cache),
        *_notes(registry, hubspot, cache),
    ]


def _registry_findings(registry: RegistrySection) -> list[Advised]:
    if not registry.readable:
        return [_finding(
            Summary.PARTNER_NOT_IN_REGISTRY,
            f"The registry cannot be read: {registry.error}",
            "Fix the registry file (the error names the entry and field) or AFFILIATE_REGISTRY_PATH.",
        )]
    if not registry.in_registry:
        return [_finding(
            Summary.PARTNER_NOT_IN_REGISTRY,
            f"No partner with this id in the registry {registry.path} ({registry.totals.get('partners', 0)} partners).",
            "Check the id for typos (format AP-<8 digits>-<6 letters or digits>).",
            "If the partner registered in the web app, check that the web app and the sync use the same "
            "registry file (AFFILIATE_REGISTRY_PATH).",
        )]
    return []


def _path_findings(paths: PathsSection) -> list[Advised]:
    if paths.same_cache:
        return []
    return [_finding(
        Summary.CACHE_PATH_MISMATCH,
        f"The dashboard reads {paths.dashboard_cache_path} ({paths.dashboard_cache_source}) but the sync "
        f"writes {paths.cache_path}.",
        "Point AFFILIATE_CACHE_PATH (sync) and the dashboard's cache path at the same file, then restart "
        "the dashboard or run `affiliate-sync run --force`.",
    )]


def _hubspot_findings(hubspot: HubSpotSection) -> list[Advised]:
    if hubspot.error is not None:
        advice = "Check HUBSPOT_API_TOKEN (or the Prefect Secret block) and its scopes; see the runbook."
        if hubspot.error_code in ("hubspot_unavailable", "hubspot_rate_limited"):
            advice = "HubSpot is unavailable or rate limiting; retry later and check status.hubspot.com."
        return [_finding(Summary.HUBSPOT_API_ERROR, f"HubSpot could not be asked: {hubspot.error}", advice)]
    if hubspot.contact_count == 0 and hubspot.deal_count == 0:
        return [_finding(
            Summary.HUBSPOT_EMPTY,
            "HubSpot has no contact and no deal whose affiliate_partner_id is this partner's id.",
            "Ask sales to set affiliate_partner_id on the partner's contacts and deals (any case is fine).",
            "Check HUBSPOT_BASE_URL and the token point at the production portal.",
        )]
    return []


def _sync_findings(registry: RegistrySection, hubspot: HubSpotSection, cache: CacheSection) -> list[Advised]:
    """Why HubSpot's data (known, or unknown because HubSpot failed) is not in the cache."""
    found: list[Advised] = []
    if registry.in_registry and registry.status != "active":
        found.append(_finding(
            Summary.SYNC_NOT_POPULATING_CACHE,
            f"The partner's status is {registry.status!r}: the sync caches only active partners.",
            "Activate the partner in the web app if they should see data; the next sync adds them.",
        ))
    if hubspot.contact_count or hubspot.deal_count or hubspot.error is not None:
        found += [
            _finding(Summary.SYNC_NOT_POPULATING_CACHE, message, *advice)
            for message, advice in _cache_problems(cache, hubspot, registry)
        ]
    return found


def _notes(registry: RegistrySection, hubspot: HubSpotSection, cache: CacheSection) -> list[Advised]:
    """Worth knowing, not a verdict: the dashboard still shows the right partner's data."""
    if not registry.in_registry:
        return []
    notes: list[Advised] = []
    if hubspot.partner_record_found is False:
        notes.append(_finding(
            None,
            "HubSpot has no partner record with this partner_id: the level is not mirrored there.",
            "Create the partner record in HubSpot (the web app's registration does it); the sync then writes "
            "its level.",
        ))
    if registry.status == "active" and cache.partner_present and _behind(cache, hubspot) and not _stale(cache):
        notes.append(_finding(
            None,
            f"The cache holds {cache.contact_count} leads and {cache.deal_count} deals, HubSpot now "
            f"{hubspot.contact_count} and {hubspot.deal_count}: records changed since the last sync "
            f"({cache.last_sync}); the next hourly sync catches up.",
        ))
    return notes


def _cache_problems(
    cache: CacheSection, hubspot: HubSpotSection, registry: RegistrySection
) -> list[tuple[str, list[str]]]:
    rerun = "Run `affiliate-sync run --force` and read its log; `affiliate-sync health` shows the last sync."
    if not cache.exists:
        return [(f"The cache {cache.path} does not exist: no sync has written it.", [rerun])]
    if not cache.valid:
        return [(f"The cache is unreadable: {cache.error}", [
            "The sync never overwrites a cache it cannot read: move the file aside "
            f"(`mv {cache.path} {cache.path}.broken`), then {rerun[0].lower()}{rerun[1:]}",
        ])]
    if cache.last_sync is None:
        return [("The cache has no last_sync: no sync has completed.", [rerun])]
    if registry.status != "active":
        return []
    if not cache.partner_present:
        return [
            (
                f"The partner is missing from the cache (last sync {cache.last_sync}, {cache.partners_total} partners).",
                [rerun],
            )
        ]
    stale = _stale(cache)
    if stale and _behind(cache, hubspot):
        return [
            (
                f"The cache holds {cache.contact_count} leads and {cache.deal_count} deals, HubSpot "
                f"{hubspot.contact_count} and {hubspot.deal_count}, and the last sync was {cache.age_hours:.1f} h ago.",
                [rerun, "Check the deployment's schedule and work pool in the Prefect UI."],
            )
        ]
    if stale:
        return [(f"The last sync was {cache.age_hours:.1f} h ago (more than {STALE_AFTER_HOURS:g} h).",
                 [rerun, "Check the deployment's schedule and work pool in the Prefect UI."])]
    return []


def _stale(cache: CacheSection) -> bool:
    return cache.age_hours is not None and cache.age_hours > STALE_AFTER_HOURS


def _behind(cache: CacheSection, hubspot: HubSpotSection) -> bool:
    """The cached counts differ from live HubSpot (only meaningful when HubSpot answered)."""
    return hubspot.error is None and (
        cache.contact_count != hubspot.contact_count or cache.deal_count != hubspot.deal_count
    )


def verdict(findings: list[Advised]) -> tuple[Diagnosis, list[str]]:
    summaries = [finding.summary for finding, _ in findings]
    summary = next((s for s in PRECEDENCE if s in summaries), Summary.OK)
    headline = next((f.message for f, _ in findings if f.summary is summary), "Registry, paths, HubSpot and cache agree.")
    recommendations = list(dict.fromkeys(advice for _, items in findings for advice in items))
    return Diagnosis(summary=summary, message=headline, findings=[f for f, _ in findings]), recommendations


# ------------------------------------------------------------------------------- entry point


def diagnose(
    settings: Settings,
    partner_id: str,
    api: PartnerLookupApi | None,
    *,
    dashboard_cache_path: Path | None = None,
    hubspot_setup_error: BaseException | None = None,
    now: datetime | None = None,
) -> DiagnoseReport:
    """Diagnose one partner. `api` is None when no client could be built (`hubspot_setup_error` says why)."""
    now = now or datetime.now(UTC)
    wanted = normalise_partner_id(partner_id)
    registry, _ = check_registry(settings.affiliate_registry_path, wanted)
    dashboard_path, source = resolve_dashboard_cache_path(dashboard_cache_path)
    paths = check_paths(settings, dashboard_path, source)
    hubspot = check_hubspot(
        api, settings, wanted, token_configured=api is not None or settings.hubspot_api_token is not None,
        setup_error=hubspot_setup_error,
    )
    cache = check_cache(settings.affiliate_cache_path, wanted, now)
    diagnosis, recommendations = verdict(findings_for(registry, paths, hubspot, cache))
    return DiagnoseReport(
        partner_id=wanted,
        checked_at=now.isoformat(timespec="seconds"),
        summary=diagnosis.summary,
        registry=registry,
        paths=paths,
        hubspot=hubspot,
        cache=cache,
        diagnosis=diagnosis,
        recommendations=recommendations,
    )


def resolve_dashboard_cache_path(explicit: Path | None) -> tuple[Path | None, str]:
    """The dashboard's cache path: the option, else AFFILIATE_DASHBOARD_CACHE_PATH, else the sync's."""
    if explicit is not None:
        return explicit, "--dashboard-cache-path"
    from_env = os.environ.get(DASHBOARD_CACHE_ENV, "").strip()
    if from_env:
        return Path(from_env), DASHBOARD_CACHE_ENV
    return None, "assumed same as the sync's (set AFFILIATE_DASHBOARD_CACHE_PATH to check)"


def render_text(report: DiagnoseReport) -> str:
    """The human view: verdict first, then each section as aligned key: value lines."""
    lines = [
        f"Partner {report.partner_id}: {report.summary.value}",
        f"  {report.diagnosis.message}",
        "",
    ]
    for title, section in (
        ("registry", report.registry),
        ("paths", report.paths),
        ("hubspot", report.hubspot),
        ("cache", report.cache),
    ):
        lines.append(f"{title}:")
        for key, value in section.model_dump(mode="json").items():
            lines.append(f"  {key:<24} {_show(value)}")
        lines.append("")
    if report.diagnosis.findings:
        lines.append("findings:")
        lines += [f"  - [{f.summary.value if f.summary else 'note'}] {f.message}" for f in report.diagnosis.findings]
        lines.append("")
    lines.append("recommendations:")
    lines += [f"  - {advice}" for advice in report.recommendations] or ["  - none"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- helpers


def _partner_record(api: PartnerLookupApi, object_type: str, partner_id: str) -> dict[str, Any] | None:
    answer = api.batch_read(object_type, [partner_id], properties=PARTNER_RECORD_PROPERTIES, id_property="partner_id")
    if answer.results:
        return answer.results[0]
    # Sales may have typed the id in another case; search matches case-insensitively.
    matches = api.search_partner(object_type, partner_id, PARTNER_RECORD_PROPERTIES, partner_property="partner_id")
    return matches[0] if matches else None


def _readable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.R_OK)


def _replaceable(path: Path) -> bool:
    """Whether an atomic replace can work: the directory must allow creating and renaming files."""
    directory = path.parent
    return directory.is_dir() and os.access(directory, os.W_OK | os.X_OK) and (
        not path.exists() or os.access(path, os.W_OK)
    )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:  # one does not exist: compare where they would resolve
        return os.path.realpath(a) == os.path.realpath(b)


def _age_hours(stamp: str, now: datetime) -> float | None:
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (now - when).total_seconds() / 3600


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "—"
    return str(value)
