"""`validate`: is the data the dashboards show consistent? (SPEC §6)

Checks, each a `FindingKind`:

* `mrr_discrepancy`: the cached figures differ from MRR recomputed from the cached deals
  with `money.compute_mrr` and the configured won stages and level policy, as of the cache's
  `last_sync` date (the level window depends on the day, so "today" would drift).
* `duplicate_email`: one e-mail under several partner ids — among registry partners, and
  among the contacts (leads) attributed to partners.
* `unparsable_mrr`: a deal whose `affiliate_mrr` is not a number, or a won deal without one
  (both count as 0 in the money).
* `won_without_close_date`: a won deal whose `closedate` is missing or unreadable (it never
  counts in the 90-day level window).
* `unknown_partner`: contacts or deals attributed to a partner id the registry does not know.

Sources: by default only the cache (and the registry) are read — no HubSpot call. The cache
holds only active partners' records, so with `hubspot=True` the record checks
(`duplicate_email` among contacts, `unparsable_mrr`, `won_without_close_date`,
`unknown_partner`) run over a live scan of every attributed contact and deal instead, which
also covers inactive, pending and unregistered ids. MRR discrepancies are always cache vs
cache.

Pure domain logic (no Prefect).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from affiliate_sync.attribution import attribute, normalise_partner_id
from affiliate_sync.cache import read_cache
from affiliate_sync.errors import CacheError
from affiliate_sync.money import PartnerMrr, compute_mrr, parse_mrr, to_cents, won_deals_table
from affiliate_sync.registry import Registry, load_registry
from affiliate_sync.settings import CONTACT_PROPERTIES, DEAL_PROPERTIES, PARTNER_ID_PROPERTY, Settings

Record = dict[str, Any]
Source = Literal["cache", "registry", "hubspot"]

# Cached money fields compared to the cent; the first five are the cache contract (SPEC §5).
MONEY_FIELDS = (
    "total_mrr", "active_mrr", "paused_mrr", "cancelled_mrr",
    "mrr_share_percent", "customer_total_mrr", "customer_active_mrr", "customer_paused_mrr", "customer_cancelled_mrr",
)
COUNT_FIELDS = ("total_deals", "won_deals_in_window")
REQUIRED_FIELDS = ("total_mrr", "active_mrr", "paused_mrr", "cancelled_mrr", "total_deals")


class FindingKind(StrEnum):
    MRR_DISCREPANCY = "mrr_discrepancy"
    DUPLICATE_EMAIL = "duplicate_email"
    UNPARSABLE_MRR = "unparsable_mrr"
    WON_WITHOUT_CLOSE_DATE = "won_without_close_date"
    UNKNOWN_PARTNER = "unknown_partner"


class Finding(BaseModel):
    kind: FindingKind
    source: Source
    message: str
    partner_ids: list[str] = Field(default_factory=list)
    record_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ValidateReport(BaseModel):
    """The stable JSON of `affiliate-sync validate --json` (keys may be added, never renamed)."""

    checked_at: str
    registry_path: str
    cache_path: str
    last_sync: str | None
    recomputed_as_of: str
    sources: list[Source]
    checked: dict[str, int] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json") | {"clean": self.clean}


class AttributedScanApi(Protocol):
    def scan_attributed(self, object_type: str, properties: Sequence[str]) -> list[Record]: ...


# ------------------------------------------------------------------------------- checks


def mrr_discrepancies(cache: Mapping[str, Any], settings: Settings, as_of: date) -> list[Finding]:
    """Per cached partner, every figure that differs from the recomputed one."""
    summaries: Mapping[str, Any] = cache.get("mrr_summary") or {}
    partners: Mapping[str, Any] = cache.get("partners") or {}
    partner_ids = list(dict.fromkeys([*partners, *summaries]))
    recomputed = compute_mrr(
        cache.get("deals") or {}, partner_ids,
        won_stages=settings.hubspot_won_stages, policy=settings.affiliate_levels, today=as_of,
    )
    findings = []
    for pid in partner_ids:
        differences = _summary_differences(summaries.get(pid), recomputed[pid])
        differences |= _partner_entry_differences(partners.get(pid), recomputed[pid], cache, pid)
        if differences:
            described = "; ".join(f"{name} cached {d['cached']!r}, recomputed {d['recomputed']!r}" for name, d in differences.items())
            findings.append(Finding(
                kind=FindingKind.MRR_DISCREPANCY, source="cache", partner_ids=[pid],
                message=f"{pid}: {described}", details={"fields": differences},
            ))
    return findings


def _summary_differences(cached: Any, fresh: PartnerMrr) -> dict[str, dict[str, Any]]:
    if not isinstance(cached, Mapping):
        return {"mrr_summary": {"cached": None, "recomputed": "an entry"}}
    wanted = fresh.as_json()
    differences: dict[str, dict[str, Any]] = {}
    for name in MONEY_FIELDS:
        if name in cached or name in REQUIRED_FIELDS:
            if _cents(cached.get(name)) != to_cents(getattr(fresh, name)):
                differences[name] = {"cached": cached.get(name), "recomputed": wanted[name]}
    for name in COUNT_FIELDS:
        if (name in cached or name in REQUIRED_FIELDS) and cached.get(name) != wanted[name]:
            differences[name] = {"cached": cached.get(name), "recomputed": wanted[name]}
    if "level" in cached and cached["level"] != fresh.level:
        differences["level"] = {"cached": cached["level"], "recomputed": fresh.level}
    return differences


def _partner_entry_differences(
    entry: Any, fresh: PartnerMrr, cache: Mapping[str, Any], pid: str
) -> dict[str, dict[str, Any]]:
    """The `partners` entry repeats the level and counts the dashboards show."""
    if not isinstance(entry, Mapping):
        return {"partners": {"cached": None, "recomputed": "an entry"}}
    differences: dict[str, dict[str, Any]] = {}
    if entry.get("level") != fresh.level:
        differences["partners.level"] = {"cached": entry.get("level"), "recomputed": fresh.level}
    for name, records in (("contact_count", "leads"), ("deal_count", "deals")):
        actual = len((cache.get(records) or {}).get(pid) or [])
        if name in entry and entry[name] != actual:
            differences[f"partners.{name}"] = {"cached": entry[name], "recomputed": actual}
    return differences


def duplicate_registry_emails(registry: Registry) -> list[Finding]:
    by_email: dict[str, list[str]] = defaultdict(list)
    for partner in registry.partners:
        if email := _email_key(partner.email):
            by_email[email].append(partner.partner_id)
    return [
        Finding(
            kind=FindingKind.DUPLICATE_EMAIL, source="registry", partner_ids=sorted(ids),
            message=f"{email} is the e-mail of {len(ids)} registry partners: {', '.join(sorted(ids))}",
            details={"email": email},
        )
        for email, ids in sorted(by_email.items())
        if len(ids) > 1
    ]


def duplicate_contact_emails(leads: Mapping[str, Sequence[Record]], source: Source) -> list[Finding]:
    """A lead e-mail attributed to several partners (who gets the commission?)."""
    by_email: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for pid, records in leads.items():
        for record in records:
            if email := _email_key((record.get("properties") or {}).get("email")):
                by_email[email][pid].append(str(record.get("id")))
    findings = []
    for email, owners in sorted(by_email.items()):
        if len(owners) > 1:
            ids = sorted(owners)
            findings.append(Finding(
                kind=FindingKind.DUPLICATE_EMAIL, source=source, partner_ids=ids,
                message=f"contact e-mail {email} is attributed to {len(ids)} partners: {', '.join(ids)}",
                details={"email": email, "contact_ids": {pid: owners[pid] for pid in ids}},
            ))
    return findings


def deal_value_problems(
    deals: Mapping[str, Sequence[Record]], won_stages: Iterable[str], source: Source
) -> list[Finding]:
    """Unparsable `affiliate_mrr` (any deal; won ones also when empty) and won deals without a close date."""
    won = won_deals_table(deals, won_stages)
    won_ids = set(zip(won["partner_id"], won["deal_id"], strict=True))
    findings: list[Finding] = []
    for pid, records in deals.items():
        for record in records:
            deal_id = str(record.get("id"))
            raw = (record.get("properties") or {}).get("affiliate_mrr")
            is_won = (pid, deal_id) in won_ids
            if parse_mrr(raw) is None and (is_won or str(raw or "").strip()):
                findings.append(Finding(
                    kind=FindingKind.UNPARSABLE_MRR, source=source, partner_ids=[pid], record_id=deal_id,
                    message=f"deal {deal_id} of {pid}: affiliate_mrr {raw!r} is not a number"
                    + (" (counted as 0)" if is_won else ""),
                    details={"value": raw, "won": is_won},
                ))
    for row in won[won["close_day"].isna()].itertuples():
        findings.append(Finding(
            kind=FindingKind.WON_WITHOUT_CLOSE_DATE, source=source, partner_ids=[row.partner_id],
            record_id=row.deal_id,
            message=f"won deal {row.deal_id} of {row.partner_id} has no readable closedate ({row.raw_close!r}): "
            "it never counts in the level window",
            details={"value": row.raw_close},
        ))
    return findings


def unknown_partners_in_cache(cache: Mapping[str, Any], registry: Registry) -> list[Finding]:
    """Cached partners the registry no longer knows (removed since the last sync)."""
    known = {p.partner_id for p in registry.partners}
    cached = {*(cache.get("partners") or {}), *(cache.get("leads") or {}), *(cache.get("deals") or {})}
    return [
        _unknown_finding(pid, len((cache.get("leads") or {}).get(pid) or []),
                         len((cache.get("deals") or {}).get(pid) or []), "cache")
        for pid in sorted(cached - known)
    ]


def unknown_partners_in_hubspot(contacts: Sequence[Record], deals: Sequence[Record], registry: Registry) -> list[Finding]:
    known = [p.partner_id for p in registry.partners]
    leads_unknown = attribute(contacts, [], known).unknown_ids
    deals_unknown = attribute(deals, [], known).unknown_ids
    return [
        _unknown_finding(pid, leads_unknown.get(pid, 0), deals_unknown.get(pid, 0), "hubspot")
        for pid in sorted(set(leads_unknown) | set(deals_unknown))
    ]


def _unknown_finding(pid: str, contacts: int, deals: int, source: Source) -> Finding:
    return Finding(
        kind=FindingKind.UNKNOWN_PARTNER, source=source, partner_ids=[pid],
        message=f"{contacts} contacts and {deals} deals are attributed to {pid}, which is not in the registry",
        details={"contacts": contacts, "deals": deals},
    )


# ------------------------------------------------------------------------------- entry point


def validate(settings: Settings, api: AttributedScanApi | None = None, *, now: datetime | None = None) -> ValidateReport:
    """Run every check; `api` given means also scan HubSpot. Raises on an unreadable registry or cache."""
    now = now or datetime.now(UTC)
    registry = load_registry(settings.affiliate_registry_path)
    cache_path = settings.affiliate_cache_path
    notes: list[str] = []
    if not cache_path.exists() and api is None:
        raise CacheError(
            f"cache {cache_path}: file not found — nothing to validate (no sync yet, or AFFILIATE_CACHE_PATH "
            "points elsewhere); `--hubspot` checks HubSpot without a cache"
        )
    cache = read_cache(cache_path)
    if not cache_path.exists():
        notes.append(f"cache {cache_path} does not exist: cache checks skipped")
    as_of = _as_of(cache.get("last_sync"), now)
    if cache.get("last_sync") is None:
        notes.append(f"the cache has no last_sync: MRR recomputed as of today ({as_of})")

    report = ValidateReport(
        checked_at=now.isoformat(timespec="seconds"),
        registry_path=str(settings.affiliate_registry_path),
        cache_path=str(cache_path),
        last_sync=str(cache["last_sync"]) if cache.get("last_sync") else None,
        recomputed_as_of=as_of.isoformat(),
        sources=["registry", "cache"] + (["hubspot"] if api is not None else []),
        notes=notes,
    )
    findings = mrr_discrepancies(cache, settings, as_of)
    findings += duplicate_registry_emails(registry)
    findings += unknown_partners_in_cache(cache, registry)
    report.checked = {
        "registry_partners": len(registry.partners),
        "cached_partners": len(cache.get("partners") or {}),
        "cached_leads": sum(len(v) for v in (cache.get("leads") or {}).values()),
        "cached_deals": sum(len(v) for v in (cache.get("deals") or {}).values()),
    }
    if api is None:
        findings += duplicate_contact_emails(cache.get("leads") or {}, "cache")
        findings += deal_value_problems(cache.get("deals") or {}, settings.hubspot_won_stages, "cache")
    else:
        contacts = api.scan_attributed("contacts", properties=CONTACT_PROPERTIES)
        deals = api.scan_attributed("deals", properties=DEAL_PROPERTIES)
        report.checked |= {"hubspot_contacts": len(contacts), "hubspot_deals": len(deals)}
        findings += duplicate_contact_emails(_by_partner_id(contacts), "hubspot")
        findings += deal_value_problems(_by_partner_id(deals), settings.hubspot_won_stages, "hubspot")
        findings += unknown_partners_in_hubspot(contacts, deals, registry)
    report.findings = findings
    report.counts = {kind.value: sum(1 for f in findings if f.kind is kind) for kind in FindingKind}
    return report


def render_text(report: ValidateReport) -> str:
    lines = [
        f"Validated registry {report.registry_path} and cache {report.cache_path} "
        f"(last sync {report.last_sync or '—'}; sources: {', '.join(report.sources)})",
        "checked: " + ", ".join(f"{k} {v}" for k, v in report.checked.items()),
    ]
    lines += [f"note: {note}" for note in report.notes]
    if report.clean:
        lines.append("clean: no findings")
        return "\n".join(lines)
    lines.append(f"{len(report.findings)} finding(s):")
    for kind in FindingKind:
        items = [f for f in report.findings if f.kind is kind]
        if items:
            lines.append(f"{kind.value} ({len(items)}):")
            lines += [f"  - [{f.source}] {f.message}" for f in items]
    return "\n".join(lines)


# ------------------------------------------------------------------------------- helpers


def _by_partner_id(records: Sequence[Record]) -> dict[str, list[Record]]:
    """Live records grouped by their (normalised) partner id, registered or not."""
    grouped: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        if pid := normalise_partner_id((record.get("properties") or {}).get(PARTNER_ID_PROPERTY)):
            grouped[pid].append(record)
    return dict(grouped)


def _email_key(value: Any) -> str:
    return str(value or "").strip().lower()


def _cents(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return to_cents(Decimal(str(value)))
    except InvalidOperation:
        return None


def _as_of(last_sync: Any, now: datetime) -> date:
    if last_sync:
        try:
            when = datetime.fromisoformat(str(last_sync))
        except ValueError:
            return now.date()
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC).date()
    return now.date()
