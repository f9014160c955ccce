"""MRR figures and levels (SPEC §4), computed as one pandas table over all won deals.

Amounts are `Decimal` end to end (pandas groups and sums them as objects), so EUR are
rounded half-up to cents exactly, never through binary floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import pandas as pd

from affiliate_sync.settings import LevelPolicy, Level

CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")
SUBSCRIPTION_STATUSES = ("active", "paused", "cancelled")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def percent_text(percent: Decimal) -> str:
    """A share as HubSpot's `mrr_share_percent` stores it: "20", "0", "22.5"."""
    return format(percent.normalize(), "f")


def percent_differs(current: Any, wanted: str) -> bool:
    """Whether HubSpot's stored share (a string, maybe "20.0" or empty) differs from `wanted`."""
    try:
        return Decimal(str(current)) != Decimal(wanted)
    except (InvalidOperation, TypeError):
        return True


def parse_mrr(value: Any) -> Decimal | None:
    """`affiliate_mrr` as a Decimal; None when empty or unparsable (counted as 0, reported by validate)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        amount = Decimal(str(value))
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            amount = Decimal(text)
        except InvalidOperation:
            return None
    return amount if amount.is_finite() else None


def subscription_status(value: Any) -> str:
    """Lower-cased `affiliate_subscription_status`; missing means active."""
    text = str(value).strip().lower() if value is not None else ""
    return text or "active"


def close_day(value: Any) -> date | None:
    """`closedate` as a UTC calendar date; HubSpot sends ISO timestamps or epoch milliseconds."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        if text.isdigit():
            stamp = pd.Timestamp(int(text), unit="ms", tz="UTC")
        else:
            stamp = pd.Timestamp(text)
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    except (ValueError, OverflowError):
        return None
    return None if pd.isna(stamp) else stamp.date()


def decide_level(won_ever: int, won_in_window: int, policy: LevelPolicy) -> Level:
    if won_ever == 0:
        return "beginner"
    if won_in_window >= policy.pro_min_deals:
        return "pro"
    if won_in_window >= policy.partner_min_deals:
        return "partner"
    return "starter"


@dataclass(frozen=True)
class PartnerMrr:
    """One partner's money row: partner-side amounts after the share, customer-side before it."""

    partner_id: str
    level: Level
    mrr_share_percent: Decimal
    total_mrr: Decimal
    active_mrr: Decimal
    paused_mrr: Decimal
    cancelled_mrr: Decimal
    total_deals: int
    won_deals_in_window: int
    customer_total_mrr: Decimal
    customer_active_mrr: Decimal
    customer_paused_mrr: Decimal
    customer_cancelled_mrr: Decimal
    unparsable_mrr_deal_ids: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """JSON-ready figures: amounts as numbers with at most two decimals."""
        # Every field is flat, so reading them beats `asdict`'s recursive deep copy (a third of
        # building the cache on a thousand partners).
        row = {name: getattr(self, name) for name in _FIELD_NAMES}
        row["unparsable_mrr_deal_ids"] = list(self.unparsable_mrr_deal_ids)
        return {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(PartnerMrr))


def won_deals_table(
    deals_by_partner: Mapping[str, Sequence[Mapping[str, Any]]], won_stages: Iterable[str]
) -> pd.DataFrame:
    """One row per won deal: partner, deal id, MRR (Decimal or None), status, close day."""
    won = {stage.strip().lower() for stage in won_stages}
    rows = [
        (partner_id, str(deal.get("id")), props.get("affiliate_mrr"),
         props.get("affiliate_subscription_status"), props.get("closedate"))
        for partner_id, deals in deals_by_partner.items()
        for deal in deals
        if str((props := deal.get("properties") or {}).get("dealstage") or "").strip().lower() in won
    ]
    # object dtype keeps None as None (pandas 3 would turn it into NaN in a string column).
    table = pd.DataFrame(
        rows, columns=["partner_id", "deal_id", "raw_mrr", "raw_status", "raw_close"], dtype=object
    )
    table["mrr"] = table["raw_mrr"].map(parse_mrr, na_action=None).astype(object)
    table["status"] = table["raw_status"].map(subscription_status, na_action=None)
    table["close_day"] = table["raw_close"].map(close_day, na_action=None).astype(object)
    return table


def compute_mrr(
    deals_by_partner: Mapping[str, Sequence[Mapping[str, Any]]],
    partner_ids: Iterable[str],
    *,
    won_stages: Iterable[str],
    policy: LevelPolicy,
    today: date,
) -> dict[str, PartnerMrr]:
    """Every partner's level and MRR figures from its attributed deals (lost deals never count)."""
    table = won_deals_table(deals_by_partner, won_stages)
    window_start = today - timedelta(days=policy.window_days - 1)
    table["in_window"] = table["close_day"].map(
        lambda day: day is not None and window_start <= day <= today
    )
    table["amount"] = table["mrr"].map(lambda amount: ZERO if amount is None else amount)
    # Plain dicts: a Series.get per partner (a MultiIndex lookup for the sums) cost 70 % of
    # this function on a thousand partners (see docs/PERFORMANCE.md).
    won_ever = table.groupby("partner_id").size().to_dict()
    in_window = table.groupby("partner_id")["in_window"].sum().to_dict()
    sums = table.groupby(["partner_id", "status"])["amount"].sum().to_dict()
    unparsable = table[table["mrr"].isna()].groupby("partner_id")["deal_id"].apply(tuple).to_dict()

    results: dict[str, PartnerMrr] = {}
    for partner_id in partner_ids:
        ever = int(won_ever.get(partner_id, 0))
        level = decide_level(ever, int(in_window.get(partner_id, 0)), policy)
        share = policy.share_percent(level) / HUNDRED
        customer = {
            status: Decimal(sums.get((partner_id, status), ZERO)) for status in SUBSCRIPTION_STATUSES
        }
        partner_side = {status: to_cents(share * amount) for status, amount in customer.items()}
        results[partner_id] = PartnerMrr(
            partner_id=partner_id,
            level=level,
            mrr_share_percent=policy.share_percent(level),
            total_mrr=partner_side["active"] + partner_side["paused"],
            active_mrr=partner_side["active"],
            paused_mrr=partner_side["paused"],
            cancelled_mrr=partner_side["cancelled"],
            total_deals=ever,
            won_deals_in_window=int(in_window.get(partner_id, 0)),
            customer_total_mrr=to_cents(customer["active"] + customer["paused"]),
            customer_active_mrr=to_cents(customer["active"]),
            customer_paused_mrr=to_cents(customer["paused"]),
            customer_cancelled_mrr=to_cents(customer["cancelled"]),
            unparsable_mrr_deal_ids=unparsable.get(partner_id, ()),
        )
    return results
