"""SPEC §5: the cache contract, its reader's defaults and errors, and atomic replacement."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, date
from pathlib import Path

import pytest

from affiliate_sync.cache import build_cache, empty_cache, read_cache, write_cache
from affiliate_sync.errors import CacheError, CacheWriteError
from affiliate_sync.files import atomic_write_text
from affiliate_sync.money import compute_mrr
from affiliate_sync.registry import Partner
from affiliate_sync.settings import LevelPolicy

P = Partner(partner_id="AP-20240115-ABC123", name="Ann", email="ann@example.com", status="active")


def test_missing_cache_reads_as_the_empty_structure(tmp_path: Path) -> None:
    assert read_cache(tmp_path / "none.json") == empty_cache()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"version": "1.0", "partners": {', "corrupt JSON"),
        ("[]", "top level must be an object"),
        ('{"version": "0.9", "partners": {}}', "version '0.9'"),
        ('{"partners": {}}', "field 'version'"),
        ('{"version": "1.0", "leads": {"AP-1": 5}}', "field 'leads.AP-1'"),
    ],
)
def test_corrupt_cache_is_a_clear_error(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "affiliate_hubspot_cache.json"
    path.write_text(text)
    with pytest.raises(CacheError) as caught:
        read_cache(path)
    assert str(path) in str(caught.value) and problem in str(caught.value)


def test_cache_has_the_contract_keys_for_exactly_the_given_partners(tmp_path: Path) -> None:
    deals = {P.partner_id: [{"id": "7", "properties": {"dealstage": "closedwon", "affiliate_mrr": "89", "closedate": "2026-12-01"}}]}
    mrr = compute_mrr(deals, [P.partner_id], won_stages=["closedwon"], policy=LevelPolicy(), today=date(2026, 12, 4))
    cache = build_cache(partners=[P], leads={P.partner_id: [{"id": "1", "properties": {"email": "x@y"}, "createdAt": "x"}]},
                        deals=deals, mrr=mrr, synced_at=datetime(2026, 12, 4, 17, 0, 34, tzinfo=UTC))
    path = tmp_path / "c.json"
    write_cache(path, cache)
    loaded = read_cache(path)
    assert loaded["version"] == "1.0" and loaded["last_sync"] == "2026-12-04T17:00:34+00:00"
    assert set(loaded) >= {"partners", "leads", "deals", "mrr_summary"}
    entry = loaded["partners"][P.partner_id]
    assert set(entry) >= {"partner_id", "name", "email", "level", "mrr", "contact_count", "deal_count"}
    assert (entry["contact_count"], entry["deal_count"], entry["level"]) == (1, 1, "starter")
    assert loaded["leads"][P.partner_id] == [{"id": "1", "properties": {"email": "x@y"}}]
    summary = loaded["mrr_summary"][P.partner_id]
    assert {"total_mrr", "active_mrr", "paused_mrr", "cancelled_mrr", "total_deals"} <= set(summary)
    assert summary["total_mrr"] == 17.8


def test_atomic_write_never_leaves_a_torn_file_or_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    atomic_write_text(path, "old")
    os.chmod(path, 0o640)

    with pytest.raises(TypeError):
        atomic_write_text(path, 12345)  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and (path.stat().st_mode & 0o777) == 0o640


def test_unwritable_directory_is_a_cache_write_error_and_keeps_the_old_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        target = Path("/proc/affiliate_hubspot_cache.json")  # not writable even for root
        with pytest.raises(CacheWriteError, match="cannot be written"):
            write_cache(target, empty_cache())
        return
    directory = tmp_path / "ro"
    directory.mkdir()
    (directory / "c.json").write_text(json.dumps(empty_cache()))
    directory.chmod(0o500)
    with pytest.raises(CacheWriteError, match="cannot be written"):
        write_cache(directory / "c.json", empty_cache())
