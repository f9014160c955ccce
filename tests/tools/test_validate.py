"""`affiliate-sync validate`: clean after a real sync, then every finding, each from the source
that can see it, and the exit codes (0 clean, 2 findings, 1 error)."""

from __future__ import annotations

from tools_world import ACTIVE, EMPTY, HUBSPOT_ONLY, INACTIVE_WON, Programme, iso_days_ago, run_sync


def validate_json(cli, *extra: str) -> tuple[int, dict]:
    outcome = cli("validate", "--json", *extra)
    return outcome.exit_code, outcome.json()


def kinds(report: dict) -> set[str]:
    return {finding["kind"] for finding in report["findings"]}


def won_deal(record_id: int, pid: str, mrr: str | None, closed: str | None) -> dict:
    return {"id": str(record_id), "properties": {
        "dealname": f"Deal {record_id}", "affiliate_partner_id": pid, "dealstage": "closedwon",
        "affiliate_mrr": mrr, "closedate": closed, "createdate": iso_days_ago(50)}}


def test_a_freshly_synced_cache_is_clean(synced: Programme, cli) -> None:
    code, report = validate_json(cli)

    assert code == 0
    assert report["clean"] is True and report["findings"] == []
    assert report["sources"] == ["registry", "cache"]
    assert set(report["counts"]) == {"mrr_discrepancy", "duplicate_email", "unparsable_mrr",
                                     "won_without_close_date", "unknown_partner"}
    assert report["checked"]["cached_deals"] == 4


def test_human_output_says_clean(synced: Programme, cli) -> None:
    outcome = cli("validate")

    assert outcome.exit_code == 0
    assert "clean: no findings" in outcome.stdout


def test_mrr_discrepancy_between_cached_and_recomputed_figures(synced: Programme, cli) -> None:
    cache = synced.cache()
    cache["mrr_summary"][ACTIVE]["total_mrr"] = 99.99
    cache["partners"][ACTIVE]["level"] = "pro"
    synced.write_cache(cache)

    code, report = validate_json(cli)

    assert code == 2
    assert kinds(report) == {"mrr_discrepancy"}
    fields = report["findings"][0]["details"]["fields"]
    assert fields["total_mrr"] == {"cached": 99.99, "recomputed": 87.8}
    assert fields["partners.level"] == {"cached": "pro", "recomputed": "starter"}
    assert report["findings"][0]["partner_ids"] == [ACTIVE]


def test_duplicate_email_in_the_registry(synced: Programme, cli) -> None:
    entries = synced.registry()
    entries[1]["email"] = "  ALICE@partners.example "  # same as Alice's, modulo case and spaces
    synced.write_registry(entries)

    code, report = validate_json(cli)

    assert code == 2
    [finding] = report["findings"]
    assert finding["kind"] == "duplicate_email" and finding["source"] == "registry"
    assert finding["partner_ids"] == [ACTIVE, EMPTY]


def test_duplicate_email_among_cached_contacts(programme: Programme, prefect_harness, cli) -> None:
    programme.add_records("contacts", [{"id": "160", "properties": {
        "email": "Lead101@Customers.example", "affiliate_partner_id": EMPTY, "createdate": iso_days_ago(1)}}])
    run_sync(programme)

    code, report = validate_json(cli)

    assert code == 2
    [finding] = report["findings"]
    assert finding["kind"] == "duplicate_email" and finding["source"] == "cache"
    assert finding["details"]["contact_ids"] == {ACTIVE: ["101"], EMPTY: ["160"]}


def test_unparsable_mrr_on_a_won_deal_without_a_false_discrepancy(programme: Programme, prefect_harness, cli) -> None:
    programme.add_records("deals", [won_deal(260, ACTIVE, "n/a", iso_days_ago(3))])
    run_sync(programme)

    code, report = validate_json(cli)

    assert code == 2
    assert kinds(report) == {"unparsable_mrr"}  # the sync and validate agree the deal counts as 0
    [finding] = report["findings"]
    assert finding["record_id"] == "260" and finding["details"] == {"value": "n/a", "won": True}


def test_won_deal_without_a_close_date(programme: Programme, prefect_harness, cli) -> None:
    programme.add_records("deals", [won_deal(261, ACTIVE, "49", None)])
    run_sync(programme)

    code, report = validate_json(cli)

    assert code == 2
    assert kinds(report) == {"won_without_close_date"}
    assert report["findings"][0]["record_id"] == "261"


def test_unknown_partner_in_the_cache_after_leaving_the_registry(synced: Programme, cli) -> None:
    synced.write_registry([e for e in synced.registry() if e["partner_id"] != EMPTY])

    code, report = validate_json(cli)

    assert code == 2
    [finding] = report["findings"]
    assert finding["kind"] == "unknown_partner" and finding["source"] == "cache"
    assert finding["partner_ids"] == [EMPTY]


def test_hubspot_scan_finds_unknown_partners_and_problems_of_inactive_partners(synced: Programme, cli) -> None:
    # Inactive partners are not in the cache: only the live scan can see their deals.
    synced.add_records("deals", [won_deal(262, INACTIVE_WON, "", iso_days_ago(3))])

    code, report = validate_json(cli, "--hubspot")

    assert code == 2
    assert report["sources"] == ["registry", "cache", "hubspot"]
    by_kind = {f["kind"]: f for f in report["findings"]}
    assert set(by_kind) == {"unknown_partner", "unparsable_mrr"}
    assert by_kind["unknown_partner"]["partner_ids"] == [HUBSPOT_ONLY]
    assert by_kind["unknown_partner"]["details"] == {"contacts": 1, "deals": 0}
    assert by_kind["unparsable_mrr"]["source"] == "hubspot" and by_kind["unparsable_mrr"]["record_id"] == "262"
    assert report["checked"]["hubspot_contacts"] == 4


def test_cache_only_validation_does_not_see_inactive_partners(synced: Programme, cli) -> None:
    synced.add_records("deals", [won_deal(263, INACTIVE_WON, "", iso_days_ago(3))])

    code, _ = validate_json(cli)

    assert code == 0


def test_human_output_groups_findings_by_kind(synced: Programme, cli) -> None:
    outcome = cli("validate", "--hubspot")

    assert outcome.exit_code == 2
    assert "unknown_partner (1):" in outcome.stdout
    assert f"[hubspot] 1 contacts and 0 deals are attributed to {HUBSPOT_ONLY}" in outcome.stdout


def test_a_corrupt_cache_is_an_error(synced: Programme, cli) -> None:
    synced.cache_path.write_text("[1, 2", encoding="utf-8")

    outcome = cli("validate")

    assert outcome.exit_code == 1
    assert "cache_invalid" in outcome.stderr and "corrupt JSON" in outcome.stderr


def test_a_missing_cache_is_an_error_unless_hubspot_is_scanned(programme: Programme, cli) -> None:
    missing = cli("validate")
    assert missing.exit_code == 1 and "file not found" in missing.stderr

    code, report = validate_json(cli, "--hubspot")
    assert code == 2  # the HubSpot-only partner is still found
    assert any("does not exist" in note for note in report["notes"])
