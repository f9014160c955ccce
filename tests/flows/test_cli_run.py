"""`affiliate-sync run` as an operator runs it: a subprocess configured only through §7 variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sync_programme import Programme

from affiliate_sync.cache import read_cache

CLI = [sys.executable, "-m", "flows.cli"]
ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env_changes: dict[str, str | None] | None = None) -> subprocess.CompletedProcess[str]:
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ)
    env["PREFECT_API_URL"] = PREFECT_API_URL.value()  # the session's test API: no second server to start
    for name, value in (env_changes or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=240)


def test_run_succeeds_prints_one_summary_line_and_writes_the_cache(programme: Programme) -> None:
    done = run_cli("run")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[Affiliate Sync] ok:" in done.stdout
    assert set(read_cache(programme.cache_path)["partners"]) == set(programme.dataset.active_partner_ids())
    token = os.environ["HUBSPOT_API_TOKEN"]
    assert token not in done.stdout + done.stderr


def test_run_dry_run_leaves_files_untouched(programme: Programme) -> None:
    before = programme.registry_path.read_bytes()
    done = run_cli("run", "--dry-run")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "dry run" in done.stdout
    assert programme.registry_path.read_bytes() == before and not programme.cache_path.exists()


def test_run_failure_exits_1_with_a_one_line_reason_and_no_token(programme: Programme) -> None:
    done = run_cli("run", env_changes={"HUBSPOT_API_TOKEN": "pat-revoked-0000-SECRET"})
    assert done.returncode == 1
    reason = [line for line in done.stderr.splitlines() if line.startswith("[Affiliate Sync] error:")]
    assert len(reason) == 1 and "[hubspot_auth]" in reason[0]
    assert "pat-revoked-0000-SECRET" not in done.stdout + done.stderr


def test_missing_token_names_the_variable_and_points_at_demo(programme: Programme) -> None:
    done = run_cli("run", env_changes={"HUBSPOT_API_TOKEN": None})
    assert done.returncode == 1
    assert "HUBSPOT_API_TOKEN" in done.stderr and "affiliate-sync demo" in done.stderr
