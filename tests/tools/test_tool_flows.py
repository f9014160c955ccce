"""The ops tools as Prefect flows (run on the session's temporary Prefect API), and their
deployments in prefect.yaml: no schedule, the project's work pool, parameters that exist."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml

from tools_world import ACTIVE, EMPTY, HUBSPOT_ONLY, INACTIVE_NEVER, PENDING, Programme
from flows import maintenance as tool_flows

PROJECT = Path(__file__).resolve().parents[2]
TOOL_FLOWS = {
    "add_level_option_flow": "affiliate-add-level-option",
    "backfill_beginner_flow": "affiliate-backfill-beginner",
    "set_level_flow": "affiliate-set-level",
    "diagnose_flow": "affiliate-diagnose-partner",
    "validate_flow": "affiliate-validate",
}


@pytest.fixture()
def flows_world(programme: Programme, prefect_harness: None) -> Programme:
    return programme


def test_maintenance_flows_default_to_a_dry_run_that_writes_nothing(flows_world: Programme) -> None:
    files, state = flows_world.files_snapshot(), flows_world.dump()

    option = tool_flows.add_level_option_flow()
    backfill = tool_flows.backfill_beginner_flow()
    flows_world.allow_beginner()
    state_with_option = flows_world.dump()
    levels = tool_flows.set_level_flow(level="beginner", all_records=True)

    assert option["dry_run"] is True and option["changed"] is True and option["applied"] is False
    assert [c["partner_id"] for c in backfill["changes"]] == [EMPTY, PENDING, INACTIVE_NEVER]
    assert backfill["written"] is False
    assert levels["dry_run"] is True and len(levels["changes"]) == 5 and levels["written"] == 0
    assert flows_world.files_snapshot() == files
    assert state["level_property"]["options"] != state_with_option["level_property"]["options"]
    assert flows_world.dump() == state_with_option


def test_maintenance_flows_write_when_dry_run_is_off(flows_world: Programme) -> None:
    option = tool_flows.add_level_option_flow(dry_run=False)
    backfill = tool_flows.backfill_beginner_flow(dry_run=False, won_deals_from="hubspot")
    levels = tool_flows.set_level_flow(level="beginner", partner_ids=[HUBSPOT_ONLY, "AP-20991231-NOPE99"], dry_run=False)

    assert option["applied"] is True and "beginner" in flows_world.level_options()
    assert backfill["written"] is True
    assert {e["partner_id"]: e["level"] for e in flows_world.registry()}[PENDING] == "beginner"
    assert levels["written"] == 1 and levels["not_found"] == ["AP-20991231-NOPE99"]
    assert flows_world.records()["9009"]["level"] == "beginner"


def test_set_level_flow_fails_when_hubspot_refuses_an_update(flows_world: Programme) -> None:
    flows_world.sim.inject(kind="partial_batch", endpoint="batch_update", fail_count=1, error_category="VALIDATION_ERROR")

    state = tool_flows.set_level_flow(level="pro", partner_ids=[ACTIVE], dry_run=False, return_state=True)

    assert state.is_failed()
    assert "VALIDATION_ERROR" in state.message


def test_diagnose_and_validate_flows_report_without_failing(flows_world: Programme) -> None:
    report = tool_flows.diagnose_flow(partner_id=ACTIVE)
    assert report["summary"] == "sync_not_populating_cache"  # no sync has run in this world

    flows_world.cache_path.write_text('{"version": "1.0", "last_sync": null}', encoding="utf-8")
    validated = tool_flows.validate_flow(hubspot=True)
    assert validated["clean"] is False and validated["counts"]["unknown_partner"] == 1


def test_every_tool_flow_has_an_unscheduled_deployment_with_its_parameters() -> None:
    config = yaml.safe_load((PROJECT / "prefect.yaml").read_text(encoding="utf-8"))
    by_entrypoint = {d["entrypoint"]: d for d in config["deployments"]}
    for function_name, flow_name in TOOL_FLOWS.items():
        flow = getattr(tool_flows, function_name)
        deployment = by_entrypoint[f"flows/maintenance.py:{function_name}"]
        assert flow.name == flow_name
        assert not deployment.get("schedules") and not deployment.get("schedule")
        assert deployment["work_pool"]["name"] == "affiliate-sync"
        assert set(deployment.get("parameters") or {}) <= set(inspect.signature(flow.fn).parameters)
        if "dry_run" in inspect.signature(flow.fn).parameters:
            assert deployment["parameters"]["dry_run"] is True
