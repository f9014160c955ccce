"""The sync flow end to end under a Prefect test API, against the simulator over real HTTP."""

from __future__ import annotations

import json
from collections import defaultdict

from decimal import ROUND_HALF_UP, Decimal

import pytest

from affiliate_sync.cache import read_cache
from affiliate_sync.errors import ErrorCode, error_code_of
from affiliate_sync.files import file_lock
from affiliate_sync.report import SyncReport
from affiliate_sync.settings import SKIP_MESSAGE
from affiliate_sync.simulator import CUSTOM_WON_STAGE_ID
from flows.sync import affiliate_hubspot_sync
from sync_programme import Programme

pytestmark = pytest.mark.usefixtures("prefect_harness")


def by_partner(records: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        key = str(record["properties"].get("affiliate_partner_id") or "").strip().upper()
        if key:
            grouped[key].append(record)
    return grouped


def expected_total_mrr(deals: list[dict], share: Decimal) -> Decimal:
    """An independent oracle for SPEC §4: a plain loop, no pandas."""
    total = {"active": Decimal(0), "paused": Decimal(0)}
    for deal in deals:
        props = deal["properties"]
        if str(props.get("dealstage")).lower() not in {"closedwon", CUSTOM_WON_STAGE_ID}:
            continue
        status = (props.get("affiliate_subscription_status") or "active").strip().lower()
        try:
            amount = Decimal(str(props.get("affiliate_mrr")).strip())
        except Exception:
            amount = Decimal(0)
        if status in total and amount.is_finite():
            total[status] += amount
    cents = Decimal("0.01")
    return sum(((share / 100) * v).quantize(cents, ROUND_HALF_UP) for v in total.values())


def run_sync(**parameters: bool):
    return affiliate_hubspot_sync(**parameters, return_state=True)


def test_sync_writes_cache_registry_and_hubspot_for_exactly_the_active_partners(programme: Programme) -> None:
    state = run_sync()
    assert state.is_completed(), state.message
    report = state.result()
    assert isinstance(report, SyncReport)

    cache = read_cache(programme.cache_path)
    active = set(programme.dataset.active_partner_ids())
    assert set(cache["partners"]) == set(cache["leads"]) == set(cache["deals"]) == set(cache["mrr_summary"]) == active

    contacts = by_partner(programme.simulator.store.dump("contacts"))
    deals = by_partner(programme.simulator.store.dump("deals"))
    for pid in active:
        assert cache["partners"][pid]["contact_count"] == len(contacts.get(pid, [])), pid
        assert cache["partners"][pid]["deal_count"] == len(deals.get(pid, [])), pid
        assert {d["id"] for d in cache["deals"][pid]} == {d["id"] for d in deals.get(pid, [])}
        summary = cache["mrr_summary"][pid]
        share = Decimal(str(summary["mrr_share_percent"]))
        assert Decimal(str(summary["total_mrr"])) == expected_total_mrr(deals.get(pid, []), share), pid
    assert report.leads == sum(len(contacts.get(pid, [])) for pid in active)

    registry = {e["partner_id"]: e for e in json.loads(programme.registry_path.read_text())}
    records = {r["properties"]["partner_id"]: r for r in programme.simulator.store.dump(programme.dataset.partner_object_type)}
    for pid in active:
        level = cache["partners"][pid]["level"]
        assert registry[pid]["level"] == level
        if pid in records:
            assert records[pid]["properties"]["level"] == level
            assert float(records[pid]["properties"]["mrr_share_percent"]) == cache["mrr_summary"][pid]["mrr_share_percent"]
            record_id_key = "hubspot_object_id" if "hubspot_object_id" in registry[pid] and "hubspot_affiliate_record_id" not in registry[pid] else "hubspot_affiliate_record_id"
            assert registry[pid][record_id_key] == records[pid]["id"], pid
        else:
            assert pid in report.without_hubspot_record
    for entry in programme.dataset.registry:  # untouched fields survive
        assert registry[entry["partner_id"]]["password_hash"] == entry["password_hash"]


def test_dry_run_writes_nothing_anywhere(programme: Programme) -> None:
    registry_before = programme.registry_path.read_bytes()
    hubspot_before = programme.simulator.store.dump(programme.dataset.partner_object_type)
    state = run_sync(dry_run=True)
    assert state.is_completed(), state.message
    report = state.result()
    assert report.dry_run and report.partners == len(programme.dataset.active_partner_ids())
    assert programme.registry_path.read_bytes() == registry_before
    assert not programme.cache_path.exists()
    assert programme.simulator.store.dump(programme.dataset.partner_object_type) == hubspot_before


def test_lock_held_means_skipped_success(programme: Programme, caplog: pytest.LogCaptureFixture) -> None:
    with file_lock(programme.cache_path.parent / "affiliate_hubspot_sync.lock", blocking=False):
        state = run_sync()
    assert state.is_completed() and state.name == "Skipped"
    assert SKIP_MESSAGE in state.message
    assert not programme.cache_path.exists()


def test_empty_portal_never_overwrites_a_cache_with_data(programme: Programme) -> None:
    assert run_sync().is_completed()
    before = programme.cache_path.read_bytes()
    programme.simulator.store.reset()
    state = run_sync(force=True)
    assert state.is_failed()
    assert error_code_of(state.result(raise_on_failure=False)) is ErrorCode.HUBSPOT_EMPTY
    assert programme.cache_path.read_bytes() == before


def test_bad_token_fails_with_auth_code_and_keeps_the_old_cache(programme: Programme, monkeypatch: pytest.MonkeyPatch) -> None:
    programme.cache_path.write_text('{"version": "1.0", "last_sync": null, "partners": {}, "leads": {}, "deals": {}, "mrr_summary": {}}')
    before = programme.cache_path.read_bytes()
    monkeypatch.setenv("HUBSPOT_API_TOKEN", "pat-wrong-token")
    state = run_sync()
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert error_code_of(error) is ErrorCode.HUBSPOT_AUTH
    assert programme.cache_path.read_bytes() == before
    # Neither the client nor the task retries a 401: one call, then a clear failure.
    assert programme.simulator.stats.count(endpoint="search") == 1


def test_missing_token_is_an_error_naming_the_variable(programme: Programme, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBSPOT_API_TOKEN")
    state = run_sync()
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert "HUBSPOT_API_TOKEN" in str(error) and "demo" in str(error)
    assert not programme.cache_path.exists()


def test_invalid_registry_fails_before_any_write(programme: Programme) -> None:
    programme.registry_path.write_text('[{"partner_id": "AP-1", "status": "active"}]')
    state = run_sync()
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert error_code_of(error) is ErrorCode.REGISTRY_INVALID
    assert str(programme.registry_path) in str(error)
    assert not programme.cache_path.exists()
    assert programme.registry_path.read_text() == '[{"partner_id": "AP-1", "status": "active"}]'


def test_hubspot_refusing_beginner_fails_after_writing_cache_and_registry(programme: Programme) -> None:
    # The simulator's `level` property starts without `beginner`, like a real portal. Move
    # every deal of one partner that has a HubSpot record away, so it becomes a beginner.
    store = programme.simulator.store
    recorded = {r["properties"]["partner_id"] for r in store.dump(programme.dataset.partner_object_type)}
    victim = next(pid for pid in programme.dataset.active_partner_ids() if pid in recorded)
    for raw in {d["properties"]["affiliate_partner_id"] for d in store.dump("deals")
                if str(d["properties"].get("affiliate_partner_id") or "").strip().upper() == victim}:
        store.reassign("deals", "affiliate_partner_id", raw, "AP-19990101-GONE00")

    state = run_sync()
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert error_code_of(error) is ErrorCode.HUBSPOT_REJECTED
    assert victim in str(error)
    cache = read_cache(programme.cache_path)
    assert cache["partners"][victim]["level"] == "beginner"
    assert set(cache["partners"]) == set(programme.dataset.active_partner_ids())
    registry = {e["partner_id"]: e for e in json.loads(programme.registry_path.read_text())}
    assert registry[victim]["level"] == "beginner"


def test_run_publishes_summary_table_and_level_changes(programme: Programme) -> None:
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    state = run_sync()
    assert state.is_completed(), state.message
    report = state.result()

    async def artifacts() -> dict[str, object]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]))
            )
        return {artifact.key: artifact for artifact in found}

    published = asyncio.run(artifacts())
    table = published["affiliate-sync-summary"].data
    rows = {row["metric"]: row["value"] for row in (json.loads(table) if isinstance(table, str) else table)}
    assert rows["active partners"] == str(len(programme.dataset.active_partner_ids()))
    assert rows["HubSpot API calls"] == str(report.api_calls) and report.api_calls > 0
    assert rows["429s absorbed"] == "0"
    assert rows["total MRR share (EUR)"] == f"{report.total_mrr:.2f}"
    markdown = published["affiliate-sync-level-changes"].data
    for move in report.level_moves:
        assert f"| {move.partner_id} |" in markdown
