"""Attributing fetched HubSpot records to registry partners (ids matched case-insensitively)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from affiliate_sync.settings import PARTNER_ID_PROPERTY

Record = dict[str, Any]


def normalise_partner_id(value: Any) -> str:
    """The matching key for a partner id typed by hand in HubSpot: trimmed, upper-case."""
    return str(value or "").strip().upper()


@dataclass
class Attribution:
    """Records grouped per known partner, and the ids HubSpot names that the registry lacks."""

    by_partner: dict[str, list[Record]]
    unknown_ids: Counter[str] = field(default_factory=Counter)

    @property
    def record_count(self) -> int:
        return sum(len(records) for records in self.by_partner.values())


def attribute(records: Iterable[Record], partner_ids: Sequence[str], known_ids: Iterable[str] = ()) -> Attribution:
    """Group `records` by `affiliate_partner_id` onto `partner_ids`, in id order per partner.

    Records of partners that are known but not wanted (inactive, pending) are dropped quietly;
    records naming ids nobody registered are counted in `unknown_ids` for `validate`.
    """
    wanted = {normalise_partner_id(pid): pid for pid in partner_ids}
    known = {normalise_partner_id(pid) for pid in known_ids} | set(wanted)
    by_partner: dict[str, list[Record]] = {pid: [] for pid in partner_ids}
    unknown: Counter[str] = Counter()
    for record in records:
        key = normalise_partner_id((record.get("properties") or {}).get(PARTNER_ID_PROPERTY))
        if key in wanted:
            by_partner[wanted[key]].append(record)
        elif key and key not in known:
            unknown[key] += 1
    for grouped in by_partner.values():
        grouped.sort(key=_numeric_id)
    return Attribution(by_partner=by_partner, unknown_ids=unknown)


def _numeric_id(record: Mapping[str, Any]) -> tuple[int, str]:
    text = str(record.get("id", ""))
    return (int(text), text) if text.isdigit() else (0, text)
