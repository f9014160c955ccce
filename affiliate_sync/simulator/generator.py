"""Deterministic partner programmes: a registry plus the HubSpot records that go with it.

The data carries the untidiness the sync has to survive: partner ids typed in other cases,
dates in partner ids that are not dates, registry entries without (or with the wrong, or the
legacy) HubSpot record id, records that exist only in HubSpot, unparsable MRR, mixed-case
subscription statuses, contacts for unknown partners, and a Zipf-like skew of ownership.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import random
import string
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from affiliate_sync.settings import DEFAULT_PARTNER_OBJECT_TYPE

if TYPE_CHECKING:
    from affiliate_sync.simulator.store import Store

RegistryShape = Literal["list", "dict", "wrapped"]

CUSTOM_PIPELINE_ID = "75419263"
CUSTOM_WON_STAGE_ID = "148290067"
CUSTOM_OPEN_STAGE_ID = "148290066"
SHARE_BY_LEVEL: dict[str, str] = {"beginner": "0", "starter": "20", "partner": "25", "pro": "30"}

_FIRST = (
    "Anna", "Ben", "Clara", "David", "Elif", "Finn", "Greta", "Hugo", "Ines", "Jonas", "Katarzyna",
    "Lukas", "Marie", "Noah", "Olga", "Paul", "Renée", "Sören", "Zoë", "José", "Łukasz", "Øyvind",
    "Ümit", "Chloé", "Björn", "Siobhán", "Dmitrij", "Mei", "Aiko", "Rahul",
)
_LAST = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann",
    "Dvořák", "García", "Nowak", "Jensen", "O'Brien", "Van der Berg", "Yılmaz", "Kowalski", "Rossi",
    "Novák", "Lefèvre", "Søndergaard", "Ångström", "Petrović", "Tanaka", "Nguyen", "Silva",
)
_UNICODE_NAMES = ("山田 太郎", "Zoë Ångström-Łukasiewicz", "Μαρία Παπαδοπούλου", "Иван Петров", "محمد علي")
_COMPANIES = ("GmbH", "AG", "KG", "Ltd", "SARL", "BV", "Oy", "AB", "S.L.", "Studio", "Digital", "Consulting")
_WORDS = ("Nord", "Blau", "Alpen", "Rhein", "Stadt", "Feld", "Berg", "Licht", "Werk", "Hafen", "Zeit", "Kraft")
_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "partner.example")
_LIFECYCLE = ("lead", "lead", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
_LEAD_STATUS = ("NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "CONNECTED", None)
_SOURCES = ("partner_link", "newsletter", "webinar", "linkedin", "referral", None)
_PLANS = (("Starter", "49.00"), ("Growth", "89.00"), ("Team", "149.00"), ("Team+", "150.00"), ("Business", "199.00"), ("Pro", "249.00"), ("Enterprise", "499.00"))
_ALNUM = string.ascii_uppercase + string.digits


@dataclass
class Dataset:
    """A generated programme: the registry file's partners and HubSpot's records."""

    seed: int
    today: date
    registry: list[dict[str, Any]]
    partner_records: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    deals: list[dict[str, Any]]
    partner_object_type: str = DEFAULT_PARTNER_OBJECT_TYPE
    big_partner_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def objects(self) -> dict[str, list[dict[str, Any]]]:
        """Records per HubSpot object type, as `Store.load` takes them."""
        return {self.partner_object_type: self.partner_records, "contacts": self.contacts, "deals": self.deals}

    def partners_with_status(self, status: str) -> list[dict[str, Any]]:
        return [partner for partner in self.registry if partner["status"] == status]

    def active_partner_ids(self) -> list[str]:
        return [partner["partner_id"] for partner in self.partners_with_status("active")]

    def summary(self) -> dict[str, Any]:
        """Counts a test can assert on."""
        attributed = sum(1 for c in self.contacts if c["properties"].get("affiliate_partner_id"))
        return {
            "partners": dict(Counter(partner["status"] for partner in self.registry)),
            "partner_records": len(self.partner_records),
            "contacts": len(self.contacts),
            "contacts_attributed": attributed,
            "contacts_unattributed": len(self.contacts) - attributed,
            "deals": len(self.deals),
            "big_partner_id": self.big_partner_id,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what `POST /_simulator/data` accepts)."""
        return {
            "seed": self.seed,
            "today": self.today.isoformat(),
            "partner_object_type": self.partner_object_type,
            "big_partner_id": self.big_partner_id,
            "params": self.params,
            "registry": self.registry,
            "partner_records": self.partner_records,
            "contacts": self.contacts,
            "deals": self.deals,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dataset:
        return cls(
            seed=int(data.get("seed", 0)),
            today=date.fromisoformat(data["today"]) if data.get("today") else datetime.now(UTC).date(),
            registry=list(data.get("registry", [])),
            partner_records=list(data.get("partner_records", [])),
            contacts=list(data.get("contacts", [])),
            deals=list(data.get("deals", [])),
            partner_object_type=data.get("partner_object_type") or DEFAULT_PARTNER_OBJECT_TYPE,
            big_partner_id=data.get("big_partner_id"),
            params=dict(data.get("params", {})),
        )


class _Ids:
    """Increasing numeric ids with random gaps, like HubSpot's."""

    def __init__(self, rng: random.Random, start: int, max_gap: int) -> None:
        self._rng, self._next, self._max_gap = rng, start, max_gap

    def take(self) -> str:
        value = self._next
        self._next += self._rng.randint(1, self._max_gap)
        return str(value)


def generate(
    *,
    seed: int = 1,
    n_active: int = 20,
    n_inactive: int = 3,
    n_pending: int = 3,
    contacts_attributed: int = 200,
    contacts_unattributed: int = 50,
    deals: int = 100,
    skew: float = 1.0,
    big_partner_contacts: int = 0,
    today: date | str | None = None,
    partner_object_type: str = DEFAULT_PARTNER_OBJECT_TYPE,
) -> Dataset:
    """Generate a programme; the same arguments always give the same dataset."""
    if isinstance(today, str):
        today = date.fromisoformat(today)
    today = today or datetime.now(UTC).date()
    params = {
        "seed": seed, "n_active": n_active, "n_inactive": n_inactive, "n_pending": n_pending,
        "contacts_attributed": contacts_attributed, "contacts_unattributed": contacts_unattributed,
        "deals": deals, "skew": skew, "big_partner_contacts": big_partner_contacts, "today": today.isoformat(),
    }
    rng = random.Random(seed)
    partners = _partners(rng, today, n_active, n_inactive, n_pending)
    record_ids = _Ids(rng, 24_510_000_001, 37)
    records, hubspot_only = _partner_records(rng, today, partners, record_ids)
    _link_registry(rng, partners, records)

    active = [p for p in partners if p["status"] == "active"]
    others = [p for p in partners if p["status"] != "active"]
    ranked = active[:]
    rng.shuffle(ranked)
    weights = _zipf_cum_weights(len(ranked), skew)
    unknown_ids = [r["properties"]["partner_id"] for r in hubspot_only] + [_partner_id(rng, today) for _ in range(3)]
    big_partner = ranked[0]["partner_id"] if big_partner_contacts and ranked else None

    owners = _owners(rng, contacts_attributed, ranked, weights, others, unknown_ids, (0.93, 0.04))
    owners += [big_partner] * (big_partner_contacts if big_partner else 0)
    contacts = _contacts(rng, today, owners, contacts_unattributed)
    deal_owners = _owners(rng, deals, ranked, weights, others, unknown_ids, (0.92, 0.04))
    deal_records = _deals(rng, today, deal_owners)

    return Dataset(
        seed=seed,
        today=today,
        registry=partners,
        partner_records=records,
        contacts=contacts,
        deals=deal_records,
        partner_object_type=partner_object_type,
        big_partner_id=big_partner,
        params=params,
    )


def reference_load(seed: int = 1, big: bool = False, today: date | str | None = None) -> Dataset:
    """1,000 active + 100 inactive partners, 20,000 attributed and 10,000 other contacts, 5,000
    deals; `big` gives the top partner 12,000 more contacts (past search's 10,000 cap)."""
    return generate(
        seed=seed,
        n_active=1_000,
        n_inactive=100,
        n_pending=0,
        contacts_attributed=20_000,
        contacts_unattributed=10_000,
        deals=5_000,
        skew=1.0,
        big_partner_contacts=12_000 if big else 0,
        today=today,
    )


def load_into(store: Store, dataset: Dataset, replace: bool = True) -> dict[str, int]:
    """Put a dataset's HubSpot records into a store (replacing those object types by default)."""
    return store.load(dataset.objects(), replace=replace)


def write_registry(path: str | os.PathLike[str], dataset: Dataset, shape: RegistryShape = "list") -> Path:
    """Write the registry file atomically, as a list, a dict keyed by partner id, or `{"partners": [...]}`."""
    target = Path(path)
    partners = [dict(partner) for partner in dataset.registry]
    document: Any
    if shape == "list":
        document = partners
    elif shape == "dict":
        document = {partner["partner_id"]: partner for partner in partners}
    elif shape == "wrapped":
        document = {"partners": partners}
    else:
        raise ValueError(f"unknown registry shape {shape!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(document, stream, ensure_ascii=False, indent=2)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


# --- partners ------------------------------------------------------------------------


def _partner_id(rng: random.Random, today: date, registered: date | None = None) -> str:
    """`AP-YYYYMMDD-XXXXXX`; one in twenty date parts is not a real date (month 13, day 99)."""
    day = registered or today - timedelta(days=rng.randint(0, 900))
    stamp = day.strftime("%Y%m%d")
    if rng.random() < 0.05:
        stamp = rng.choice((f"{day.year}13{day.day:02d}", f"{day.year}{day.month:02d}99", f"{day.year}0000"))
    return f"AP-{stamp}-{''.join(rng.choices(_ALNUM, k=6))}"


def _partners(rng: random.Random, today: date, n_active: int, n_inactive: int, n_pending: int) -> list[dict[str, Any]]:
    statuses = ["active"] * n_active + ["inactive"] * n_inactive + ["pending_verification"] * n_pending
    rng.shuffle(statuses)
    seen: set[str] = set()
    partners: list[dict[str, Any]] = []
    emails: list[str] = []
    for index, status in enumerate(statuses):
        registered = today - timedelta(days=rng.randint(1, 900))
        partner_id = _partner_id(rng, today, registered)
        while partner_id in seen:
            partner_id = _partner_id(rng, today, registered)
        seen.add(partner_id)
        name = rng.choice(_UNICODE_NAMES) if rng.random() < 0.03 else f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        email = f"partner{index}.{_ascii(name)}@{rng.choice(_DOMAINS)}"
        # A few people register twice under different ids with the same address.
        if emails and rng.random() < 0.01:
            email = rng.choice(emails)
        emails.append(email)
        partners.append(
            {
                "partner_id": partner_id,
                "name": name,
                "email": email,
                "status": status,
                "level": _registry_level(rng, status),
                "password_hash": "pbkdf2_sha256$600000$" + "".join(rng.choices(string.hexdigits.lower(), k=16)) + "$" + "".join(rng.choices(string.hexdigits.lower(), k=43)),
                "oauth": {"provider": rng.choice(("google", "github", "microsoft")), "sub": str(rng.randint(10**17, 10**18))} if rng.random() < 0.4 else None,
                "terms_accepted_at": _iso(datetime.combine(registered, datetime.min.time(), UTC) + timedelta(minutes=rng.randint(1, 600))),
                "is_admin": False,
                "created_at": _iso(datetime.combine(registered, datetime.min.time(), UTC) + timedelta(seconds=rng.randint(0, 86_399))),
            }
        )
    for partner in partners[:2]:
        partner["is_admin"] = True
    partners.sort(key=lambda partner: partner["created_at"])
    return partners


def _registry_level(rng: random.Random, status: str) -> str:
    if status == "pending_verification":
        return rng.choice(("starter", "starter", "beginner"))
    if status == "inactive":
        return "starter"
    return rng.choices(("starter", "partner", "pro", "beginner"), weights=(6, 2, 1, 1))[0]


def _partner_records(
    rng: random.Random, today: date, partners: list[dict[str, Any]], ids: _Ids
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Custom-object records: most partners have one, a few none, a few exist only in HubSpot."""
    records: list[dict[str, Any]] = []
    without = _pick(rng, partners, 0.03, minimum=1 if len(partners) >= 10 else 0)
    for partner in partners:
        if partner["partner_id"] in without:
            continue
        records.append(_partner_record(ids.take(), partner, partner["created_at"][:10]))
    hubspot_only: list[dict[str, Any]] = []
    for _ in range(max(1 if partners else 0, len(partners) // 50)):
        ghost = {
            "partner_id": _partner_id(rng, today),
            "name": f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
            "email": f"legacy{rng.randint(1, 9999)}@{rng.choice(_DOMAINS)}",
            "status": rng.choice(("active", "inactive")),
            "level": rng.choice(("starter", "partner")),
        }
        registered = (today - timedelta(days=rng.randint(400, 1200))).isoformat()
        hubspot_only.append(_partner_record(ids.take(), ghost, registered))
    records.extend(hubspot_only)
    records.sort(key=lambda record: int(record["id"]))
    return records, hubspot_only


def _partner_record(record_id: str, partner: dict[str, Any], registered: str) -> dict[str, Any]:
    # HubSpot's level property has no `beginner` option yet, so records hold a real option.
    level = partner["level"] if partner["level"] in ("starter", "partner", "pro") else "starter"
    return {
        "id": record_id,
        "properties": {
            "partner_id": partner["partner_id"],
            "name": partner["name"],
            "email": partner["email"],
            "level": level,
            "mrr_share_percent": SHARE_BY_LEVEL[level],
            "status": "active" if partner["status"] == "active" else "inactive",
            "registration_date": registered,
            "createdate": f"{registered}T09:00:00.000Z",
        },
    }


def _link_registry(rng: random.Random, partners: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    """Record ids in the registry: mostly right, some missing, some legacy-keyed, a couple wrong."""
    by_partner = {record["properties"]["partner_id"]: record["id"] for record in records}
    linked = [p for p in partners if p["partner_id"] in by_partner]
    big_enough = len(linked) >= 10
    missing = _pick(rng, linked, 0.05, minimum=1 if big_enough else 0)
    legacy = _pick(rng, [p for p in linked if p["partner_id"] not in missing], 0.03, minimum=1 if big_enough else 0)
    wrong = _pick(rng, [p for p in linked if p["partner_id"] not in missing | legacy], 0.0, minimum=2 if big_enough else 0)
    for partner in partners:
        partner_id = partner["partner_id"]
        if partner_id not in by_partner or partner_id in missing:
            continue
        record_id = by_partner[partner_id]
        if partner_id in wrong:
            record_id = rng.choice([rid for pid, rid in by_partner.items() if pid != partner_id])
        key = "hubspot_object_id" if partner_id in legacy else "hubspot_affiliate_record_id"
        partner[key] = record_id
    # Keep the web app's field order: the HubSpot id sits after level.
    for index, partner in enumerate(partners):
        order = ["partner_id", "name", "email", "status", "level", "hubspot_affiliate_record_id", "hubspot_object_id"]
        partners[index] = {key: partner[key] for key in order if key in partner} | {
            key: value for key, value in partner.items() if key not in order
        }


def _pick(rng: random.Random, partners: Sequence[dict[str, Any]], fraction: float, minimum: int) -> set[str]:
    count = min(len(partners), max(minimum, round(len(partners) * fraction)))
    return {partner["partner_id"] for partner in rng.sample(list(partners), count)}


# --- contacts and deals -------------------------------------------------------------


def _zipf_cum_weights(n: int, skew: float) -> list[float]:
    """Cumulative Zipf weights (computed once: `choices` would redo the sums on every draw)."""
    return list(itertools.accumulate(1.0 / (rank + 1) ** skew for rank in range(n)))


def _owners(
    rng: random.Random,
    count: int,
    ranked: list[dict[str, Any]],
    cum_weights: list[float],
    others: list[dict[str, Any]],
    unknown_ids: list[str],
    split: tuple[float, float],
) -> list[str]:
    """Partner ids for `count` records: mostly active partners by Zipf weight, some inactive/pending, some unknown."""
    owners: list[str] = []
    to_active, to_others = split
    for _ in range(count):
        draw = rng.random()
        if ranked and (draw < to_active or (not others and draw < to_active + to_others)):
            owners.append(rng.choices(ranked, cum_weights=cum_weights)[0]["partner_id"])
        elif others and draw < to_active + to_others:
            owners.append(rng.choice(others)["partner_id"])
        elif unknown_ids:
            owners.append(rng.choice(unknown_ids))
        elif ranked:
            owners.append(rng.choices(ranked, cum_weights=cum_weights)[0]["partner_id"])
    return owners


def _typed(rng: random.Random, partner_id: str) -> str:
    """Sales type partner ids by hand: one in ten comes in another case."""
    draw = rng.random()
    if draw < 0.06:
        return partner_id.lower()
    if draw < 0.10:
        return "".join(ch.lower() if rng.random() < 0.5 else ch for ch in partner_id)
    return partner_id


def _contacts(rng: random.Random, today: date, owners: list[str], unattributed: int) -> list[dict[str, Any]]:
    rows: list[tuple[datetime, dict[str, Any]]] = []
    now = datetime.combine(today, datetime.min.time(), UTC)
    for owner in owners + [None] * unattributed:
        created = now - timedelta(seconds=rng.randint(3_600, 400 * 86_400))
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        props: dict[str, Any] = {
            "email": f"{_ascii(first)}.{_ascii(last)}.{rng.randint(1, 10**6)}@{rng.choice(_DOMAINS)}",
            "firstname": first,
            "lastname": last,
            "company": f"{rng.choice(_WORDS)}{rng.choice(_WORDS).lower()} {rng.choice(_COMPANIES)}",
            "lifecyclestage": rng.choice(_LIFECYCLE),
            "hs_lead_status": rng.choice(_LEAD_STATUS),
            "createdate": _iso_ms(created, rng),
            "source__c": rng.choice(_SOURCES),
            "utm_medium__c": rng.choice(("affiliate", "email", "social", None)),
            "utm_campaign__c": rng.choice(("spring_launch", "partner_q3", "webinar_2025", None)),
        }
        if owner is not None:
            props["affiliate_partner_id"] = _typed(rng, owner)
            props["affiliate_referral_date"] = created.date().isoformat()
        elif rng.random() < 0.2:
            props["affiliate_partner_id"] = ""
        rows.append((created, {k: v for k, v in props.items() if v is not None}))
    rows.sort(key=lambda row: row[0])
    ids = _Ids(rng, 101, 3)
    return [{"id": ids.take(), "properties": props} for _, props in rows]


def _deals(rng: random.Random, today: date, owners: list[str]) -> list[dict[str, Any]]:
    rows: list[tuple[datetime, dict[str, Any]]] = []
    end_of_today = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=23, minutes=59)
    for owner in owners:
        closed = end_of_today - timedelta(seconds=rng.randint(0, 200 * 86_400 - 1))
        created = closed - timedelta(days=rng.randint(1, 60), seconds=rng.randint(0, 86_399))
        plan, mrr = rng.choice(_PLANS)
        pipeline, stage = _stage(rng)
        props: dict[str, Any] = {
            "affiliate_partner_id": _typed(rng, owner),
            "affiliate_mrr": _mrr(rng, mrr),
            "affiliate_subscription_status": _subscription_status(rng),
            "dealname": f"{rng.choice(_WORDS)}{rng.choice(_WORDS).lower()} {rng.choice(_COMPANIES)} – {plan}",
            "dealstage": stage,
            "pipeline": pipeline,
            "closedate": _iso_deal(closed, rng),
            "createdate": _iso_ms(created, rng),
            "amount": f"{float(mrr) * 12:.2f}",
        }
        rows.append((created, {k: v for k, v in props.items() if v is not None}))
    rows.sort(key=lambda row: row[0])
    ids = _Ids(rng, 9_100_000_001, 17)
    return [{"id": ids.take(), "properties": props} for _, props in rows]


def _stage(rng: random.Random) -> tuple[str, str]:
    draw = rng.random()
    if draw < 0.55:
        return "default", "closedwon"
    if draw < 0.75:
        return "default", "closedlost"
    if draw < 0.88:
        return "default", "appointmentscheduled"
    if draw < 0.97:
        return CUSTOM_PIPELINE_ID, CUSTOM_WON_STAGE_ID
    return CUSTOM_PIPELINE_ID, CUSTOM_OPEN_STAGE_ID


def _mrr(rng: random.Random, base: str) -> str:
    draw = rng.random()
    if draw < 0.015:
        return ""
    if draw < 0.025:
        return "n/a"
    if draw < 0.10:
        return f"{float(base) + rng.randint(1, 99) / 100:.2f}"
    return base


def _subscription_status(rng: random.Random) -> str | None:
    status = rng.choices(("active", "paused", "cancelled", None), weights=(70, 12, 13, 5))[0]
    if status is not None and rng.random() < 0.1:
        status = rng.choice((status.title(), status.upper()))
    return status


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _iso_ms(moment: datetime, rng: random.Random) -> str:
    return _iso_s(moment)[:-1] + f".{rng.randint(0, 999):03d}Z"


def _iso_s(m: datetime) -> str:
    # f-strings: strftime dominated the generator's profile.
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}Z"


def _iso_deal(moment: datetime, rng: random.Random) -> str:
    """Close dates as HubSpot sends them: mostly whole seconds, sometimes with milliseconds."""
    if rng.random() < 0.25:
        return _iso_ms(moment, rng)
    return _iso_s(moment)


@functools.lru_cache(maxsize=4096)
def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    cleaned = "".join(ch for ch in decomposed if ch in string.ascii_lowercase)
    return cleaned or "partner"
