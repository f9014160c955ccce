"""SPEC §4: won deals, the 90-day window, levels, shares and half-up cents."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from affiliate_sync.money import compute_mrr, parse_mrr, close_day
from affiliate_sync.settings import LevelPolicy

TODAY = date(2026, 12, 4)
P = "AP-20260101-ABC123"


def deal(deal_id: int, mrr: object = "100", *, stage: str = "closedwon", status: str | None = None,
         closed: date | str | None = TODAY) -> dict:
    props = {"dealstage": stage, "affiliate_mrr": mrr, "closedate": closed.isoformat() + "T12:00:00Z" if isinstance(closed, date) else closed}
    if status is not None:
        props["affiliate_subscription_status"] = status
    return {"id": str(deal_id), "properties": props}


def figures(deals: list[dict], policy: LevelPolicy = LevelPolicy(), stages=("closedwon",)):
    return compute_mrr({P: deals}, [P], won_stages=stages, policy=policy, today=TODAY)[P]


def test_worked_example_from_the_spec() -> None:
    row = figures([deal(1, "89"), deal(2, "150"), deal(3, "200", status="paused")])
    assert row.level == "starter"
    assert row.total_mrr == Decimal("87.80")
    assert row.active_mrr == Decimal("47.80")
    assert row.paused_mrr == Decimal("40.00")
    assert row.customer_total_mrr == Decimal("439.00")
    assert row.total_deals == 3


def test_partner_without_won_deals_is_beginner_with_no_share() -> None:
    row = figures([deal(1, "500", stage="closedlost")])
    assert (row.level, row.total_mrr, row.total_deals, row.mrr_share_percent) == ("beginner", 0, 0, 0)


def test_lost_deals_never_count() -> None:
    row = figures([deal(1, "100"), deal(2, "900", stage="closedlost")])
    assert row.customer_total_mrr == Decimal("100.00")
    assert row.total_deals == 1


@pytest.mark.parametrize(
    ("days_ago", "in_window"), [(0, True), (89, True), (90, False), (-1, False)]
)
def test_window_is_today_minus_89_through_today(days_ago: int, in_window: bool) -> None:
    row = figures([deal(1, closed=TODAY - timedelta(days=days_ago))])
    assert row.won_deals_in_window == int(in_window)


def test_window_edge_decides_partner_level() -> None:
    six_at_edge = [deal(i, closed=TODAY - timedelta(days=89)) for i in range(6)]
    assert figures(six_at_edge).level == "partner"
    six_past_edge = [deal(i, closed=TODAY - timedelta(days=90)) for i in range(6)]
    assert figures(six_past_edge).level == "starter"


def test_won_deals_all_older_than_window_keep_starter_not_beginner() -> None:
    row = figures([deal(i, closed=TODAY - timedelta(days=200)) for i in range(12)])
    assert row.level == "starter"
    assert row.won_deals_in_window == 0
    assert row.total_deals == 12


@pytest.mark.parametrize(("count", "level", "share"), [(5, "starter", 20), (6, "partner", 25), (10, "partner", 25), (11, "pro", 30)])
def test_level_thresholds(count: int, level: str, share: int) -> None:
    row = figures([deal(i) for i in range(count)])
    assert (row.level, row.mrr_share_percent) == (level, share)


def test_thresholds_and_shares_are_configuration() -> None:
    policy = LevelPolicy(partner_min_deals=2, pro_min_deals=3, pro_share_percent=Decimal("50"))
    row = figures([deal(1, "10"), deal(2, "10"), deal(3, "10")], policy)
    assert (row.level, row.total_mrr) == ("pro", Decimal("15.00"))


def test_unparsable_mrr_counts_as_zero_and_is_reported() -> None:
    row = figures([deal(1, ""), deal(2, "n/a"), deal(3, None), deal(4, "10.5")])
    assert row.customer_total_mrr == Decimal("10.50")
    assert set(row.unparsable_mrr_deal_ids) == {"1", "2", "3"}
    assert row.total_deals == 4


def test_status_is_case_insensitive_and_missing_means_active() -> None:
    row = figures([deal(1, "100", status="PAUSED"), deal(2, "100", status=" Cancelled "), deal(3, "100")])
    assert (row.paused_mrr, row.cancelled_mrr, row.active_mrr) == (Decimal("20.00"), Decimal("20.00"), Decimal("20.00"))
    assert row.total_mrr == Decimal("40.00")


def test_amounts_round_half_up_to_cents() -> None:
    row = figures([deal(1, "0.125")], LevelPolicy(starter_share_percent=Decimal("20")))
    assert row.active_mrr == Decimal("0.03")  # 0.025 rounds up, not to even
    assert figures([deal(1, "0.0125")]).active_mrr == Decimal("0.00")


def test_custom_pipeline_stage_ids_count_as_won() -> None:
    row = figures([deal(1, stage="123456789"), deal(2, stage="closedwon")], stages=("closedwon", "123456789"))
    assert row.total_deals == 2


def test_closedate_in_epoch_millis_and_timezones_use_the_utc_date() -> None:
    assert close_day("1764547200000") == date(2025, 12, 1)
    assert close_day("2026-12-04T23:30:00-02:00") == date(2026, 12, 5)
    assert close_day("garbage") is None


def test_parse_mrr_accepts_numbers_and_rejects_junk() -> None:
    assert parse_mrr("149.00") == Decimal("149.00")
    assert parse_mrr(12) == Decimal("12")
    assert parse_mrr("NaN") is None
