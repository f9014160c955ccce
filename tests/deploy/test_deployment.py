"""The deployed service, against a real Prefect server and process worker (see conftest.py).

Order matters: the runs build on each other's cache, and the last test stops the worker.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from datetime import UTC, datetime

import pytest
import yaml
from prefect.states import Scheduled

from affiliate_sync.cache import read_cache
from tests.deploy.conftest import BIN, HEARTBEAT_SECONDS, POOL, PROJECT_DIR, TOKEN, flow_run_pids, wait_until

pytestmark = pytest.mark.deployment

HOURLY = "affiliate-hubspot-sync/hourly"
DAILY = "affiliate-health-check/daily"


def test_prefect_yaml_deployments_read_back_from_the_api(stack):
    hourly = stack.deployment(HOURLY)
    [schedule] = hourly.schedules
    assert schedule.schedule.cron == "0 * * * *"
    assert schedule.schedule.timezone == "UTC"
    assert schedule.active
    assert not hourly.paused
    assert hourly.global_concurrency_limit is not None
    assert hourly.global_concurrency_limit.limit == 1
    assert hourly.concurrency_options.collision_strategy.value == "CANCEL_NEW"
    assert hourly.work_pool_name == POOL
    assert hourly.entrypoint == "flows/sync.py:affiliate_hubspot_sync"
    assert hourly.parameters == {"dry_run": False, "force": False}
    assert hourly.description and "force=true" in hourly.description
    props = hourly.parameter_openapi_schema["properties"]
    assert props["force"]["description"] and props["dry_run"]["description"]  # the UI's run form explains them
    assert "affiliate-sync" in hourly.tags
    # the pull step points at this checkout (resolved at deploy time by deployments/setup.py)
    assert hourly.pull_steps == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT_DIR)}}
    ]
    # nothing secret travels in job variables
    assert TOKEN not in json.dumps(hourly.job_variables)
    assert hourly.job_variables == {}

    daily = stack.deployment(DAILY)
    [daily_schedule] = daily.schedules
    assert daily_schedule.schedule.cron == "0 9 * * *"
    assert daily_schedule.schedule.timezone == "UTC"
    assert daily_schedule.active
    assert daily.work_pool_name == POOL


def test_token_and_smtp_live_in_blocks_not_in_the_worker(stack):
    from prefect.blocks.system import Secret
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect_email import EmailServerCredentials

    with temporary_settings({PREFECT_API_URL: stack.api_url}):
        assert Secret.load("hubspot-api-token", _sync=True).get() == TOKEN
        smtp = EmailServerCredentials.load("affiliate-sync-smtp", _sync=True)
    assert smtp.smtp_port == stack.smtp.port


def test_verify_deployment_passes_against_the_live_install(stack):
    result = stack.affiliate_sync("verify-deployment")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    for name in ("schedule_hourly", "concurrency_limit_1", "collision_strategy_cancel_new", "work_pool",
                 "worker_polling", "health_deployment_daily"):
        assert f"PASS  {name}" in result.stdout


def test_deployment_run_completes_and_writes_the_cache_and_a_second_run_meanwhile_is_cancelled(stack):
    result = stack.prefect("deployment", "run", HOURLY)
    assert result.returncode == 0, result.stdout + result.stderr
    first_id = next(line.split()[-1] for line in result.stdout.splitlines() if "UUID:" in line)
    stack.wait_for_run(first_id, until="started")
    second = stack.create_run(HOURLY, force=True)

    second_final = stack.wait_for_run(second.id)
    first_final = stack.wait_for_run(first_id)

    assert second_final.state.is_cancelled(), second_final.state
    assert "concurrency" in (second_final.state.message or "").lower()
    assert first_final.state.is_completed() and first_final.state.name == "Completed", (
        first_final.state, stack.worker_log_tail())
    cache = read_cache(stack.cache_path)
    assert cache["last_sync"] is not None
    assert set(cache["partners"]) == set(stack.active_ids)
    assert stack.smtp.messages == []  # neither a completed nor a cancelled run sends anything


def ci_trigger_command(force: bool) -> str:
    """The shell command of the backup-trigger workflow's run step, as GitHub would run it."""
    workflow = yaml.safe_load((PROJECT_DIR / ".github" / "workflows" / "backup-sync-trigger.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert [s["cron"] for s in triggers["schedule"]] == ["0 9 * * *", "0 21 * * *"]
    assert "workflow_dispatch" in triggers
    assert workflow["jobs"]["trigger"]["env"]["PREFECT_API_URL"] == "${{ secrets.PREFECT_API_URL }}"
    [step] = [s for s in workflow["jobs"]["trigger"]["steps"] if "prefect deployment run" in s.get("run", "")]
    return re.sub(r"\$\{\{.*?\}\}", "true" if force else "false", step["run"])


def test_ci_trigger_in_cooldown_is_skipped_but_the_scheduled_run_is_not(stack):
    before = read_cache(stack.cache_path)["last_sync"]

    # the workflow's command, with this server as the PREFECT_API_URL secret
    ci = stack.run("bash", "-c", ci_trigger_command(force=False), env={"PATH": f"{BIN}:{os.environ['PATH']}"})
    assert ci.returncode == 0, ci.stdout + ci.stderr
    manual = stack.wait_for_run(next(line.split()[-1] for line in ci.stdout.splitlines() if "UUID:" in line))

    assert manual.state.is_completed() and manual.state.name == "Skipped"
    assert "ci-backup-trigger" in manual.tags
    assert "cooldown" in manual.state.message and "force=true" in manual.state.message
    assert read_cache(stack.cache_path)["last_sync"] == before

    scheduled = stack.parked_scheduled_run  # created by the deployment's schedule
    assert scheduled.auto_scheduled
    with stack.client() as client:
        client.set_flow_run_state(scheduled.id, Scheduled(scheduled_time=datetime.now(UTC)), force=True)
    ran = stack.wait_for_run(scheduled.id)

    assert ran.state.is_completed() and ran.state.name == "Completed", ran.state
    assert read_cache(stack.cache_path)["last_sync"] > before
    assert stack.smtp.messages == []


def test_failed_deployed_run_sends_exactly_one_email_while_the_daily_health_run_passes(stack):
    last_sync = read_cache(stack.cache_path)["last_sync"]
    stack.save_token("pat-revoked-0000-OLD-TOKEN")  # an operator pasted a revoked token
    try:
        result = stack.prefect("deployment", "run", DAILY)  # another deployment: runs alongside
        assert result.returncode == 0, result.stdout + result.stderr
        health_id = next(line.split()[-1] for line in result.stdout.splitlines() if "UUID:" in line)
        run = stack.wait_for_run(stack.create_run(HOURLY, force=True).id)
        health = stack.wait_for_run(health_id)
        assert run.state.is_failed(), run.state
        deadline = time.monotonic() + 20
        while not stack.smtp.messages and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # the worker's crash handling would come now, if it were going to double up
    finally:
        stack.save_token(TOKEN)

    assert health.state.is_completed(), health.state  # the cache is fresh: health OK, no e-mail
    assert len(stack.smtp.messages) == 1, stack.worker_log_tail()
    mail = stack.smtp.messages.pop()
    assert "[Affiliate Sync]" in mail.subject and "hubspot_auth" in mail.subject
    assert "affiliate-hubspot-sync/hourly" in mail.subject
    body = mail.text
    assert "Error code: hubspot_auth" in body
    assert f"Last successful sync: {last_sync}" in body
    assert f"{stack.api_url.removesuffix('/api')}/runs/flow-run/{run.id}" in body
    assert "Remediation (hubspot_auth):" in body
    raw = mail.raw_text
    assert "pat-revoked-0000-OLD-TOKEN" not in raw and TOKEN not in raw


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the flow-run process through /proc")
def test_killed_flow_run_process_is_crashed_and_sends_exactly_one_email(stack):
    # hold the run inside its first HubSpot search, then kill its process as the OOM killer would
    stack.simulator.inject(kind="delay", endpoint="search", delay_seconds=90, count=1)
    try:
        run = stack.create_run(HOURLY, force=True)
        stack.wait_for_run(run.id, until="running")
        pids = wait_until(lambda: flow_run_pids(run.id), 30, "the flow-run process")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        final = stack.wait_for_run(run.id)
        deadline = time.monotonic() + 30
        while not stack.smtp.messages and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)
    finally:
        stack.simulator.faults.clear()

    assert final.state.is_crashed(), final.state
    assert len(stack.smtp.messages) == 1, stack.worker_log_tail()  # the worker's on_crashed, once
    mail = stack.smtp.messages.pop()
    assert "Crashed" in mail.subject and "unexpected" in mail.subject
    body = mail.text
    assert f"/runs/flow-run/{run.id}" in body
    assert "Remediation (unexpected):" in body
    assert TOKEN not in mail.raw_text


def test_verify_deployment_fails_against_an_empty_server(stack, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    result = stack.affiliate_sync("verify-deployment", env={"PREFECT_API_URL": PREFECT_API_URL.value()})

    assert result.returncode == 1
    assert "PASS  api_reachable" in result.stdout
    for name in ("deployment_exists", "worker_polling", "health_deployment_daily"):
        assert f"FAIL  {name}" in result.stdout
    assert "deployment_exists" in result.stderr  # the summary names the failed checks


def test_verify_deployment_fails_when_the_worker_stops(stack):
    stack.stop_worker()
    time.sleep(3 * HEARTBEAT_SECONDS + 1)

    result = stack.affiliate_sync("verify-deployment", "--json")

    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["failed"] == ["worker_polling"]
