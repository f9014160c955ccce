"""Which runs the manual/CI cooldown skips (flows/cooldown.py), decided from the run's own record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from prefect.client.schemas.objects import CreatedBy, FlowRun

from affiliate_sync.cache import empty_cache
from flows.cooldown import cooldown_decision, is_scheduled_run, trigger_of

NOW = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)


def scheduler_run() -> FlowRun:
    """A run as Prefect's scheduler service creates it (server/models/deployments.py)."""
    deployment, schedule = uuid4(), uuid4()
    return FlowRun(
        flow_id=uuid4(), deployment_id=deployment, auto_scheduled=True,
        idempotency_key=f"scheduled {deployment} {schedule} 2026-03-01 12:00:00+00:00",
        created_by=CreatedBy(id=schedule, type="SCHEDULE", display_value="CronSchedule"),
    )


def manual_run() -> FlowRun:
    """A run created through the API: UI "Run", `prefect deployment run`, CI."""
    return FlowRun(flow_id=uuid4(), deployment_id=uuid4())


def local_run() -> FlowRun:
    """`affiliate-sync run`: the flow called directly, no deployment."""
    return FlowRun(flow_id=uuid4())


@pytest.fixture
def fresh_cache(tmp_path):
    path = tmp_path / "affiliate_hubspot_cache.json"
    cache = empty_cache()
    cache["last_sync"] = (NOW - timedelta(seconds=90)).isoformat()
    path.write_text(json.dumps(cache), encoding="utf-8")
    return path


def decide(path, flow_run, *, force=False, dry_run=False, seconds=300, now=NOW):
    return cooldown_decision(path, cooldown_seconds=seconds, force=force, dry_run=dry_run, flow_run=flow_run, now=now)


def test_triggers_are_told_apart():
    assert trigger_of(scheduler_run()) == "schedule"
    assert trigger_of(manual_run()) == "deployment"
    assert trigger_of(local_run()) == "local"
    assert trigger_of(None) == "local"


def test_any_one_scheduler_mark_is_enough():
    run = scheduler_run()
    assert is_scheduled_run(run.model_copy(update={"auto_scheduled": False}))  # created_by, key
    assert is_scheduled_run(run.model_copy(update={"auto_scheduled": False, "created_by": None}))  # key
    assert not is_scheduled_run(run.model_copy(update={"auto_scheduled": False, "created_by": None,
                                                       "idempotency_key": "ci-run-42"}))


@pytest.mark.parametrize("make_run", [manual_run, local_run])
def test_manual_and_ci_runs_within_the_cooldown_are_skipped_with_the_reason(fresh_cache, make_run):
    decision = decide(fresh_cache, make_run())
    assert decision.skip
    assert "90 s ago" in decision.reason and "300 s cooldown" in decision.reason
    assert "force=true" in decision.reason


def test_scheduled_runs_are_never_skipped_for_cooldown(fresh_cache):
    assert not decide(fresh_cache, scheduler_run()).skip


def test_force_and_dry_run_are_not_skipped(fresh_cache):
    assert not decide(fresh_cache, manual_run(), force=True).skip
    assert not decide(fresh_cache, manual_run(), dry_run=True).skip


def test_outside_the_window_or_disabled_runs(fresh_cache):
    assert not decide(fresh_cache, manual_run(), now=NOW + timedelta(seconds=211)).skip
    assert not decide(fresh_cache, manual_run(), seconds=0).skip


def test_no_usable_last_sync_never_skips(tmp_path):
    missing = tmp_path / "missing.json"
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{", encoding="utf-8")
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(empty_cache()), encoding="utf-8")
    for path in (missing, corrupt, empty):
        assert not decide(path, manual_run()).skip
