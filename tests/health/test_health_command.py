"""`affiliate-sync health`: 0 ok (< 2 h), 2 warning (2-6 h, no last_sync), 1 error (> 6 h, missing, corrupt).

The five cases of SPEC §6 and --json run the real command line in a subprocess, the way cron
or a monitoring agent would; the rest go through the same typer app in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from affiliate_sync.cache import empty_cache
from affiliate_sync.health import HealthProblem, HealthStatus, check_health

PROJECT_DIR = Path(__file__).resolve().parents[2]


def health(cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AFFILIATE_", "HUBSPOT_"))}
    env["AFFILIATE_CACHE_PATH"] = str(cache)
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", "health", *args],
        cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60,
    )


def health_in_process(cache: Path, *args: str):
    from typer.testing import CliRunner

    from flows.cli import app

    return CliRunner().invoke(app, ["health", *args], env={"AFFILIATE_CACHE_PATH": str(cache)})


def cache_synced(path: Path, age: timedelta | None) -> Path:
    cache = empty_cache()
    if age is not None:
        cache["last_sync"] = (datetime.now(UTC) - age).isoformat(timespec="seconds")
    cache["partners"] = {"AP-20240115-ABC123": {"partner_id": "AP-20240115-ABC123", "level": "starter"}}
    path.write_text(json.dumps(cache), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("case", "exit_code", "status"),
    [
        ("fresh", 0, "OK"),
        ("3h", 2, "WARNING"),
        ("8h", 1, "ERROR"),
        ("missing", 1, "ERROR"),
        ("corrupt", 1, "ERROR"),
    ],
)
def test_health_exit_codes(tmp_path, case, exit_code, status):
    path = tmp_path / "affiliate_hubspot_cache.json"
    if case == "fresh":
        cache_synced(path, timedelta(minutes=10))
    elif case == "3h":
        cache_synced(path, timedelta(hours=3))
    elif case == "8h":
        cache_synced(path, timedelta(hours=8))
    elif case == "corrupt":
        path.write_text('{"version": "1.0", "last_sync": "2026-', encoding="utf-8")

    result = health(path)

    assert result.returncode == exit_code, result.stdout + result.stderr
    assert f"[Affiliate Sync] health {status}:" in result.stdout + result.stderr


def test_health_json_reports_status_age_and_thresholds(tmp_path):
    path = cache_synced(tmp_path / "affiliate_hubspot_cache.json", timedelta(hours=3))

    result = health(path, "--json")

    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["status"] == "warning"
    assert report["problem"] == "stale"
    assert report["exit_code"] == 2
    assert report["cache_path"] == str(path)
    assert 3 * 3600 - 60 <= report["age_seconds"] <= 3 * 3600 + 60
    assert report["partners"] == 1
    assert report["thresholds"] == {"warning_after_seconds": 7200, "error_after_seconds": 21600}


def test_a_cache_without_last_sync_is_a_warning(tmp_path):
    result = health_in_process(cache_synced(tmp_path / "affiliate_hubspot_cache.json", None))

    assert result.exit_code == 2
    assert "[Affiliate Sync] health WARNING:" in result.output and "no last_sync" in result.output


def test_health_json_on_a_corrupt_cache_names_the_problem(tmp_path):
    path = tmp_path / "affiliate_hubspot_cache.json"
    path.write_text("not json", encoding="utf-8")

    result = health_in_process(path, "--json")

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["status"] == "error" and report["problem"] == "unreadable"
    assert "corrupt JSON" in report["message"] and str(path) in report["message"]


def test_cache_path_option_overrides_the_environment(tmp_path):
    fresh = cache_synced(tmp_path / "elsewhere.json", timedelta(minutes=1))

    result = health_in_process(tmp_path / "missing.json", "--cache-path", str(fresh))

    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("age", "status", "problem"),
    [
        (timedelta(hours=1, minutes=59), HealthStatus.OK, None),
        (timedelta(hours=2, minutes=1), HealthStatus.WARNING, HealthProblem.STALE),
        (timedelta(hours=5, minutes=59), HealthStatus.WARNING, HealthProblem.STALE),
        (timedelta(hours=6, minutes=1), HealthStatus.ERROR, HealthProblem.VERY_STALE),
        (-timedelta(minutes=2), HealthStatus.OK, None),  # small clock skew is tolerated
        (-timedelta(minutes=30), HealthStatus.WARNING, HealthProblem.IN_FUTURE),
    ],
)
def test_thresholds_at_their_edges(tmp_path, age, status, problem):
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    path = tmp_path / "affiliate_hubspot_cache.json"
    cache = empty_cache()
    cache["last_sync"] = (now - age).isoformat()
    path.write_text(json.dumps(cache), encoding="utf-8")

    report = check_health(path, now=now)

    assert (report.status, report.problem) == (status, problem)


def test_a_cache_of_the_wrong_version_is_an_error(tmp_path):
    path = tmp_path / "affiliate_hubspot_cache.json"
    cache = empty_cache() | {"version": "2.0", "last_sync": datetime.now(UTC).isoformat()}
    path.write_text(json.dumps(cache), encoding="utf-8")

    report = check_health(path)

    assert report.status is HealthStatus.ERROR and report.exit_code == 1
