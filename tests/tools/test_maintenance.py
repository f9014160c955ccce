"""The one-off maintenance commands, each in dry and real mode against the simulator.

A dry run must write nothing anywhere: every file in the data directory (lock files
included) and the simulator's whole record state and `level` property are compared before
and after.
"""

from __future__ import annotations

import json

import pytest

from affiliate_sync.maintenance import plan_level_options
from affiliate_sync.simulator.schema import options
from tools_world import (
    ACTIVE,
    ACTIVE_RECORD_ID,
    EMPTY,
    HUBSPOT_ONLY,
    HUBSPOT_ONLY_RECORD_ID,
    INACTIVE_NEVER,
    INACTIVE_WON,
    PARTNER_TYPE,
    PENDING,
    PRO,
    Programme,
    registry_entries,
)


@pytest.fixture()
def untouched(programme: Programme):
    """Call it after a dry run: asserts files and simulator state are as before the test body."""
    files, state = programme.files_snapshot(), programme.dump()

    def check() -> None:
        assert programme.files_snapshot() == files
        assert programme.dump() == state

    return check


# ----------------------------------------------------------------------- hubspot add-level-option


def test_add_level_option_dry_run_shows_the_diff_and_writes_nothing(programme: Programme, cli, untouched) -> None:
    outcome = cli("hubspot", "add-level-option", "--dry-run")

    assert outcome.exit_code == 0
    assert "[Affiliate Sync] would change (dry run):" in outcome.stdout
    assert "+ beginner (label 'Beginner', displayOrder 3)" in outcome.stdout
    untouched()
    assert programme.level_options() == ["starter", "partner", "pro"]


def test_add_level_option_keeps_every_option_and_is_idempotent(programme: Programme, cli) -> None:
    before = programme.dump()["level_property"]["options"]

    first = cli("hubspot", "add-level-option", "--json")
    after_first = programme.dump()
    second = cli("hubspot", "add-level-option")

    assert first.exit_code == 0 and second.exit_code == 0
    assert first.json()["changed"] is True and first.json()["applied"] is True
    assert first.json()["before"] == ["starter", "partner", "pro"]
    options_now = after_first["level_property"]["options"]
    assert options_now[:3] == before  # existing options written back exactly as read
    assert options_now[3] == {"label": "Beginner", "value": "beginner", "displayOrder": 3, "hidden": False}
    assert "'beginner' is already an option: nothing to do" in second.stdout
    assert programme.dump() == after_first


def test_a_hidden_beginner_option_is_made_visible() -> None:
    current = options("beginner", "starter")
    current[0]["hidden"] = True

    planned, diff = plan_level_options(current)

    assert diff == ["~ beginner: hidden → visible"]
    assert planned[0]["hidden"] is False and planned[1] == current[1]


def test_add_level_option_reports_a_missing_scope(programme: Programme, cli) -> None:
    programme.sim.set_missing_scopes("crm.schemas.custom.write")

    outcome = cli("hubspot", "add-level-option")

    assert outcome.exit_code == 1
    assert "hubspot_auth" in outcome.stderr and "crm.schemas.custom.write" in outcome.stderr


# ----------------------------------------------------------------------- backfill-beginner


def test_backfill_dry_run_prints_each_change_and_writes_nothing(programme: Programme, cli, untouched) -> None:
    outcome = cli("backfill-beginner", "--dry-run")

    assert outcome.exit_code == 0
    lines = outcome.stdout.splitlines()
    changed = [line for line in lines if line.startswith("[Affiliate Sync] would set")]
    assert [line.split()[4] for line in changed] == [EMPTY, PENDING, INACTIVE_NEVER]
    assert f"would set {PENDING} (Carol, pending_verification): level starter → beginner: pending verification" in outcome.stdout
    assert "3 partner(s) would change (dry run, nothing written)" in lines[-1]
    untouched()  # not even the registry's lock file was created


def test_backfill_writes_only_the_level_of_the_right_partners(programme: Programme, cli) -> None:
    outcome = cli("backfill-beginner", "--json")

    assert outcome.exit_code == 0
    result = outcome.json()
    assert [c["partner_id"] for c in result["changes"]] == [EMPTY, PENDING, INACTIVE_NEVER]
    assert result["written"] is True and result["won_deals_source"] == "hubspot"
    expected = registry_entries()
    for entry in expected:
        if entry["partner_id"] in (EMPTY, PENDING, INACTIVE_NEVER):
            entry["level"] = "beginner"
    assert programme.registry() == expected  # shape, order and every other field kept

    again = cli("backfill-beginner")
    assert again.exit_code == 0 and "0 partner(s) changed" in again.stdout


def test_backfill_keeps_a_keyed_registry_keyed(programme: Programme, cli) -> None:
    programme.write_registry({e["partner_id"]: e for e in registry_entries()})

    outcome = cli("backfill-beginner")

    assert outcome.exit_code == 0
    registry = programme.registry()
    assert isinstance(registry, dict) and list(registry) == [e["partner_id"] for e in registry_entries()]
    assert registry[PENDING]["level"] == "beginner" and registry[INACTIVE_WON]["level"] == "starter"
    assert registry[PRO]["level"] == "pro"


def test_backfill_from_the_cache_skips_partners_it_cannot_judge(synced: Programme, cli) -> None:
    outcome = cli("backfill-beginner", "--won-deals-from", "cache", "--json")

    assert outcome.exit_code == 0
    result = outcome.json()
    # The sync already made the never-won active partner a beginner; pending needs no deal data.
    assert [c["partner_id"] for c in result["changes"]] == [PENDING]
    assert [s["partner_id"] for s in result["skipped"]] == [INACTIVE_WON, INACTIVE_NEVER]
    assert {e["partner_id"]: e["level"] for e in synced.registry()}[INACTIVE_NEVER] == "starter"


def test_backfill_with_hubspot_down_writes_nothing(programme: Programme, cli) -> None:
    before = programme.files_snapshot()
    programme.sim.inject(kind="status", status=500, endpoint="search", count=20)

    outcome = cli("backfill-beginner")

    assert outcome.exit_code == 1 and "hubspot_unavailable" in outcome.stderr
    assert programme.files_snapshot() == before


# ----------------------------------------------------------------------- hubspot set-level


def test_set_level_refuses_a_level_hubspot_does_not_offer(programme: Programme, cli, untouched) -> None:
    outcome = cli("hubspot", "set-level", "--level", "beginner", "--all")

    assert outcome.exit_code == 1
    assert "hubspot add-level-option" in outcome.stderr
    untouched()


def test_set_level_all_dry_run_lists_every_record_and_writes_nothing(programme: Programme, cli, untouched) -> None:
    programme.allow_beginner()
    untouched_after_option = programme.dump()

    outcome = cli("hubspot", "set-level", "--level", "beginner", "--all", "--dry-run", "--json")

    assert outcome.exit_code == 0
    result = outcome.json()
    assert result["dry_run"] is True and result["share_percent"] == "0"
    assert sorted(c["partner_id"] for c in result["changes"]) == sorted([ACTIVE, EMPTY, INACTIVE_WON, PRO, HUBSPOT_ONLY])
    assert programme.dump() == untouched_after_option


def test_set_level_all_writes_every_record_including_hubspot_only_ones(programme: Programme, cli) -> None:
    programme.allow_beginner()

    outcome = cli("hubspot", "set-level", "--level", "beginner", "--all")

    assert outcome.exit_code == 0
    records = programme.records()
    assert {r["level"] for r in records.values()} == {"beginner"}
    assert {r["mrr_share_percent"] for r in records.values()} == {"0"}
    assert records[HUBSPOT_ONLY_RECORD_ID]["partner_id"] == HUBSPOT_ONLY
    assert "5 record(s) changed, 0 already beginner at 0%, 0 not found, 0 failed" in outcome.stdout


def test_set_level_by_id_reports_ids_not_found(programme: Programme, cli) -> None:
    before = programme.records()

    outcome = cli("hubspot", "set-level", "--level", "partner", ACTIVE, INACTIVE_WON.lower(), "AP-20991231-NOPE99")

    assert outcome.exit_code == 2
    assert "[Affiliate Sync] not found in HubSpot: AP-20991231-NOPE99" in outcome.stdout
    after = programme.records()
    assert after[ACTIVE_RECORD_ID]["level"] == "partner" and after[ACTIVE_RECORD_ID]["mrr_share_percent"] == "25"
    assert after["9004"]["level"] == "partner"
    assert {k: v for k, v in after.items() if k not in (ACTIVE_RECORD_ID, "9004")} == {
        k: v for k, v in before.items() if k not in (ACTIVE_RECORD_ID, "9004")
    }


def test_set_level_finds_a_record_whose_partner_id_was_typed_in_another_case(programme: Programme, cli) -> None:
    programme.add_records(PARTNER_TYPE, [{"id": "9010", "properties": {
        "partner_id": "ap-20240110-low010", "level": "starter", "mrr_share_percent": "20"}}])

    outcome = cli("hubspot", "set-level", "--level", "pro", "AP-20240110-LOW010")

    assert outcome.exit_code == 0
    record = programme.records()["9010"]
    assert record["level"] == "pro" and record["mrr_share_percent"] == "30"


def test_set_level_leaves_records_already_at_the_level_alone(programme: Programme, cli) -> None:
    first = cli("hubspot", "set-level", "--level", "pro", "--all")
    state = programme.dump()
    second = cli("hubspot", "set-level", "--level", "pro", "--all")

    assert first.exit_code == 0 and second.exit_code == 0
    assert "0 record(s) changed, 5 already pro at 30%" in second.stdout
    assert programme.dump() == state


def test_set_level_reports_records_hubspot_refused(programme: Programme, cli) -> None:
    programme.sim.inject(kind="partial_batch", endpoint="batch_update", fail_ids=[ACTIVE_RECORD_ID],
                         error_category="VALIDATION_ERROR")

    outcome = cli("hubspot", "set-level", "--level", "partner", ACTIVE, EMPTY)

    assert outcome.exit_code == 1
    assert f"[Affiliate Sync] FAILED {ACTIVE_RECORD_ID}: VALIDATION_ERROR" in outcome.stdout
    assert programme.records()["9002"]["level"] == "partner"


@pytest.mark.parametrize(
    "args",
    [("--level", "gold", "--all"), ("--level", "pro"), ("--level", "pro", "--all", ACTIVE)],
    ids=["unknown-level", "no-target", "both-targets"],
)
def test_set_level_usage_errors_touch_nothing(programme: Programme, cli, untouched, args) -> None:
    outcome = cli("hubspot", "set-level", *args)

    assert outcome.exit_code == 2  # click's usage error
    untouched()


def test_json_outputs_are_single_documents(programme: Programme, cli) -> None:
    for args in (("hubspot", "add-level-option", "--dry-run", "--json"), ("backfill-beginner", "--dry-run", "--json"),
                 ("hubspot", "set-level", "--level", "pro", "--all", "--dry-run", "--json")):
        outcome = cli(*args)
        assert outcome.exit_code == 0
        assert isinstance(json.loads(outcome.stdout), dict)
