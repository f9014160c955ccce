"""`affiliate-sync diagnose`: every summary value, its precedence, the JSON contract, the exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tools_world import ACTIVE, EMPTY, PENDING, TOKEN, Programme, iso_days_ago

# The stable top-level keys of `--json` (keys may be added, never renamed).
REPORT_KEYS = {"partner_id", "checked_at", "summary", "registry", "paths", "hubspot", "cache", "diagnosis", "recommendations"}


def diagnose_json(cli, partner_id: str, *extra: str) -> tuple[int, dict]:
    outcome = cli("diagnose", "--partner-id", partner_id, "--json", *extra)
    return outcome.exit_code, outcome.json()


def test_ok_after_a_sync_with_stable_json(synced: Programme, cli) -> None:
    code, report = diagnose_json(cli, ACTIVE)

    assert code == 0
    assert report["summary"] == "ok" and report["diagnosis"]["summary"] == "ok"
    assert REPORT_KEYS <= set(report)
    assert {"in_registry": True, "status": "active", "hubspot_record_id": "9001"}.items() <= report["registry"].items()
    assert report["registry"]["totals"] == {"partners": 6, "active": 2, "pending_verification": 1, "inactive": 3}
    assert report["paths"]["same_cache"] is True and report["paths"]["cache_writable"] is True
    assert {"token_verified": True, "contact_count": 2, "deal_count": 4, "won_deal_count": 3,
                                      "partner_record_found": True, "partner_record_id": "9001", "error": None}.items() <= report["hubspot"].items()
    assert {"valid": True, "partner_present": True, "contact_count": 2, "deal_count": 4,
                                    "total_mrr": 87.8}.items() <= report["cache"].items()
    assert "token" not in json.dumps(report["hubspot"]).replace("token_verified", "").replace("token_configured", "")


def test_human_output_is_readable_and_exits_zero(synced: Programme, cli) -> None:
    outcome = cli("diagnose", "--partner-id", ACTIVE.lower())  # ids are matched case-insensitively

    assert outcome.exit_code == 0
    assert outcome.stdout.startswith(f"Partner {ACTIVE}: ok")
    for section in ("registry:", "paths:", "hubspot:", "cache:", "recommendations:"):
        assert f"\n{section}\n" in outcome.stdout
    assert "token_verified           yes" in outcome.stdout


def test_partner_not_in_registry(synced: Programme, cli) -> None:
    code, report = diagnose_json(cli, "AP-20991231-NOPE99")

    assert code == 1
    assert report["summary"] == "partner_not_in_registry"
    assert report["registry"]["in_registry"] is False
    assert any("registry file" in advice for advice in report["recommendations"])


def test_an_unreadable_registry_counts_as_partner_not_in_registry(synced: Programme, cli) -> None:
    synced.registry_path.write_text("{not json", encoding="utf-8")

    code, report = diagnose_json(cli, ACTIVE)

    assert code == 1
    assert report["summary"] == "partner_not_in_registry"
    assert report["registry"]["readable"] is False and "not valid JSON" in report["registry"]["error"]


def test_partner_not_in_registry_takes_precedence_over_a_path_mismatch(synced: Programme, cli, tmp_path) -> None:
    code, report = diagnose_json(cli, "AP-20991231-NOPE99", "--dashboard-cache-path", str(tmp_path / "other.json"))

    assert code == 1
    assert report["summary"] == "partner_not_in_registry"
    assert [f["summary"] for f in report["diagnosis"]["findings"]][:2] == ["partner_not_in_registry", "cache_path_mismatch"]


def test_cache_path_mismatch_from_the_option(synced: Programme, cli, tmp_path) -> None:
    elsewhere = tmp_path / "dashboard" / "affiliate_hubspot_cache.json"

    code, report = diagnose_json(cli, ACTIVE, "--dashboard-cache-path", str(elsewhere))

    assert code == 1
    assert report["summary"] == "cache_path_mismatch"
    assert {"same_cache": False, "dashboard_cache_path": str(elsewhere),
                                    "dashboard_cache_source": "--dashboard-cache-path", "dashboard_cache_exists": False}.items() <= report["paths"].items()


def test_cache_path_mismatch_from_the_dashboard_env_var(synced: Programme, cli, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AFFILIATE_DASHBOARD_CACHE_PATH", str(tmp_path / "old" / "cache.json"))

    code, report = diagnose_json(cli, ACTIVE)

    assert code == 1
    assert report["summary"] == "cache_path_mismatch"
    assert report["paths"]["dashboard_cache_source"] == "AFFILIATE_DASHBOARD_CACHE_PATH"


def test_a_symlink_to_the_same_cache_is_not_a_mismatch(synced: Programme, cli, tmp_path) -> None:
    link = tmp_path / "dashboard-cache.json"
    link.symlink_to(synced.cache_path)

    code, report = diagnose_json(cli, ACTIVE, "--dashboard-cache-path", str(link))

    assert code == 0 and report["paths"]["same_cache"] is True


def test_hubspot_api_error_when_the_token_is_rejected(synced: Programme, cli, monkeypatch) -> None:
    monkeypatch.setenv("HUBSPOT_API_TOKEN", "wrong-token-123456")

    outcome = cli("diagnose", "--partner-id", ACTIVE, "--json")
    report = outcome.json()

    assert outcome.exit_code == 1
    assert report["summary"] == "hubspot_api_error"
    assert {"token_configured": True, "token_verified": False, "error_code": "hubspot_auth"}.items() <= report["hubspot"].items()
    assert "401" in report["hubspot"]["error"]
    assert "wrong-token-123456" not in outcome.stdout + outcome.stderr


def test_hubspot_api_error_when_no_token_is_set(synced: Programme, cli, monkeypatch) -> None:
    monkeypatch.delenv("HUBSPOT_API_TOKEN")

    code, report = diagnose_json(cli, ACTIVE)

    assert code == 1
    assert report["summary"] == "hubspot_api_error"
    assert {"token_configured": False, "token_verified": False, "error_code": "config_invalid"}.items() <= report["hubspot"].items()
    assert "HUBSPOT_API_TOKEN" in report["hubspot"]["error"]


def test_hubspot_api_error_when_hubspot_is_down(synced: Programme, cli) -> None:
    synced.sim.inject(kind="status", status=503, endpoint="search", count=50)

    code, report = diagnose_json(cli, ACTIVE)

    assert code == 1
    assert report["summary"] == "hubspot_api_error"
    assert report["hubspot"]["error_code"] == "hubspot_unavailable"
    assert any("unavailable" in advice for advice in report["recommendations"])


def test_hubspot_empty(synced: Programme, cli) -> None:
    code, report = diagnose_json(cli, EMPTY)

    assert code == 1
    assert report["summary"] == "hubspot_empty"
    assert {"token_verified": True, "contact_count": 0, "deal_count": 0}.items() <= report["hubspot"].items()
    assert any("affiliate_partner_id" in advice for advice in report["recommendations"])


def test_sync_not_populating_cache_before_any_sync(programme: Programme, cli) -> None:
    code, report = diagnose_json(cli, ACTIVE)

    assert code == 1
    assert report["summary"] == "sync_not_populating_cache"
    assert report["cache"]["exists"] is False
    assert "does not exist" in report["diagnosis"]["message"]


def test_sync_not_populating_cache_for_a_partner_who_is_not_active(synced: Programme, cli) -> None:
    code, report = diagnose_json(cli, PENDING)

    assert code == 1
    assert report["summary"] == "sync_not_populating_cache"
    assert "pending_verification" in report["diagnosis"]["message"]
    assert report["hubspot"]["contact_count"] == 1 and report["cache"]["partner_present"] is False
    notes = [f["message"] for f in report["diagnosis"]["findings"] if f["summary"] is None]
    assert notes == ["HubSpot has no partner record with this partner_id: the level is not mirrored there."]


def test_sync_not_populating_cache_when_the_cache_is_corrupt(synced: Programme, cli) -> None:
    synced.cache_path.write_text('{"version": "1.0", "partners": ', encoding="utf-8")

    code, report = diagnose_json(cli, ACTIVE)

    assert code == 1
    assert report["summary"] == "sync_not_populating_cache"
    assert report["cache"]["valid"] is False and "corrupt JSON" in report["cache"]["error"]


def test_sync_not_populating_cache_when_the_cache_is_stale_and_behind(synced: Programme, cli) -> None:
    cache = synced.cache()
    cache["last_sync"] = (datetime.now(UTC) - timedelta(hours=5)).isoformat(timespec="seconds")
    synced.write_cache(cache)
    synced.add_records("contacts", [{"id": "150", "properties": {
        "email": "new@customers.example", "affiliate_partner_id": ACTIVE, "createdate": iso_days_ago(0)}}])

    code, report = diagnose_json(cli, ACTIVE)

    assert code == 1
    assert report["summary"] == "sync_not_populating_cache"
    assert report["cache"]["contact_count"] == 2 and report["hubspot"]["contact_count"] == 3
    assert "5.0 h ago" in report["diagnosis"]["message"]


def test_a_fresh_cache_one_record_behind_is_ok_with_a_note(synced: Programme, cli) -> None:
    synced.add_records("contacts", [{"id": "151", "properties": {
        "email": "new@customers.example", "affiliate_partner_id": ACTIVE, "createdate": iso_days_ago(0)}}])

    code, report = diagnose_json(cli, ACTIVE)

    assert code == 0 and report["summary"] == "ok"
    notes = [f for f in report["diagnosis"]["findings"] if f["summary"] is None]
    assert len(notes) == 1 and "next hourly sync catches up" in notes[0]["message"]


def test_the_token_never_appears_in_either_output(synced: Programme, cli) -> None:
    for args in (("--json",), ()):
        outcome = cli("diagnose", "--partner-id", ACTIVE, *args)
        assert TOKEN not in outcome.stdout + outcome.stderr
