"""One real Prefect install for the deployment tests: server, process worker, simulator, SMTP.

`prefect server start` (sqlite in a temp PREFECT_HOME, random port) and `prefect worker start`
run as subprocesses in their own process groups; the HubSpot simulator and an aiosmtpd server
run in threads of the test process on 127.0.0.1. The pool, the token's Secret block, the SMTP
EmailServerCredentials block and the deployments are created by `deployments/setup.py`, the
script an operator runs. The worker gets no HubSpot token and no SMTP settings: the flow reads
both from the blocks, like production.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from mail_sink import SmtpSink, free_port

from affiliate_sync.simulator import SimulatorServer, generate, write_registry

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "pat-eu1-deploy-test-7777-SECRET"
POOL = "affiliate-sync"
HEARTBEAT_SECONDS = 2
SERVER_START_TIMEOUT = 120.0
RUN_TIMEOUT = 120.0


def clean_environment() -> dict[str, str]:
    """The test process's environment without any Prefect, HubSpot or affiliate settings."""
    return {
        k: v for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "HUBSPOT_", "AFFILIATE_"))
    }


@dataclass
class Stack:
    root: Path
    api_url: str
    env: dict[str, str]  # for CLI subprocesses talking to this server
    cache_path: Path
    registry_path: Path
    simulator: SimulatorServer
    smtp: SmtpSink
    active_ids: list[str]
    worker: subprocess.Popen | None = None
    worker_log: Path | None = None
    parked_scheduled_run: Any = None
    procs: list[subprocess.Popen] = field(default_factory=list)

    # --- subprocesses ------------------------------------------------------------------
    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            list(args), cwd=PROJECT_DIR, env={**self.env, **(env or {})}, capture_output=True, text=True,
            timeout=timeout,
        )

    def prefect(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
        return self.run(str(BIN / "prefect"), *args, **kwargs)

    def affiliate_sync(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "flows.cli", *args, **kwargs)

    # --- API ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def client(self) -> Iterator[Any]:
        from prefect.client.orchestration import SyncPrefectClient

        with SyncPrefectClient(api=self.api_url) as client:
            yield client

    def deployment(self, name: str) -> Any:
        with self.client() as client:
            return client.read_deployment_by_name(name)

    def create_run(self, deployment: str, **parameters: Any) -> Any:
        with self.client() as client:
            dep = client.read_deployment_by_name(deployment)
            return client.create_flow_run_from_deployment(dep.id, parameters=parameters)

    def read_run(self, run_id: Any) -> Any:
        with self.client() as client:
            return client.read_flow_run(run_id)

    def wait_for_run(self, run_id: Any, *, until: str = "final", timeout: float = RUN_TIMEOUT) -> Any:
        """Poll the run until its state is final (until="started": Pending or Running; "running": Running)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.read_run(run_id)
            state = run.state
            started = state is not None and (state.is_pending() or state.is_running())
            if state is not None and (
                state.is_final()
                or (until == "started" and started)
                or (until == "running" and state.is_running())
            ):
                return run
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"run {run_id} still {state.name if state else None} after {timeout:.0f} s; worker log tail:\n"
                    + self.worker_log_tail()
                )
            time.sleep(0.5)

    def worker_log_tail(self, lines: int = 40) -> str:
        if self.worker_log is None or not self.worker_log.exists():
            return "(no worker log)"
        return "\n".join(self.worker_log.read_text(errors="replace").splitlines()[-lines:])

    def save_token(self, token: str) -> None:
        """What an operator does after rotating the token: overwrite the Secret block."""
        from prefect.blocks.system import Secret
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: self.api_url}):
            Secret(value=token).save("hubspot-api-token", overwrite=True, _sync=True)

    def stop_worker(self) -> None:
        if self.worker is not None:
            stop_process(self.worker)
            self.worker = None


def flow_run_pids(run_id: Any) -> list[int]:
    """Processes executing this flow run (the worker gives them PREFECT__FLOW_RUN_ID in their environment)."""
    marker = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def start_process(args: list[str], *, env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    handle = log.open("w")
    try:
        return subprocess.Popen(
            args, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        handle.close()


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a process this fixture started, and its process group (the worker's flow runs)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def wait_until(predicate, timeout: float, what: str, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:]) if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


def add_beginner_option(simulator: SimulatorServer, object_type: str) -> None:
    """The install-time maintenance step, straight through HubSpot's properties API."""
    headers = {"Authorization": f"Bearer {simulator.token}"}
    url = f"{simulator.url}/crm/v3/properties/{object_type}/level"
    options = httpx.get(url, headers=headers, timeout=10).raise_for_status().json()["options"]
    if not any(o["value"] == "beginner" for o in options):
        options.insert(0, {"label": "Beginner", "value": "beginner", "displayOrder": 0, "hidden": False})
        httpx.patch(url, headers=headers, json={"options": options}, timeout=10).raise_for_status()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("prefect-install")
    data = root / "data"
    data.mkdir()
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    base = clean_environment()
    server_env = {
        **base,
        "PREFECT_HOME": str(root / "server-home"),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{root / 'prefect.db'}",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    cli_env = {
        **base,
        "PREFECT_HOME": str(root / "cli-home"),
        "PREFECT_API_URL": api_url,
        "PYTHONPATH": str(PROJECT_DIR),
    }

    dataset = generate(seed=11, n_active=12, n_inactive=2, n_pending=1, contacts_attributed=150, deals=60)
    registry_path = write_registry(data / "affiliate_partners.json", dataset)
    cache_path = data / "affiliate_hubspot_cache.json"
    smtp = SmtpSink().start()
    simulator = SimulatorServer(token=TOKEN, dataset=dataset, rate_limits=False).start()
    add_beginner_option(simulator, dataset.partner_object_type)

    stack = Stack(root, api_url, cli_env, cache_path, registry_path, simulator, smtp, dataset.active_partner_ids())
    server = start_process(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env, log=root / "server.log", cwd=root,
    )
    stack.procs.append(server)
    try:
        def healthy() -> bool:
            if server.poll() is not None:
                raise AssertionError("prefect server exited:\n" + (root / "server.log").read_text())
            try:
                return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, SERVER_START_TIMEOUT, "prefect server", root / "server.log")

        # The worker boots (≈10 s) while setup.py deploys: create its pool first, as setup.py would.
        from prefect.client.schemas.actions import WorkPoolCreate

        with stack.client() as client:
            client.create_work_pool(WorkPoolCreate(name=POOL, type="process"))
        worker_env = {
            **cli_env,
            "PREFECT_HOME": str(root / "worker-home"),
            "PREFECT_WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS),
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            # what the job needs on this host; the token and SMTP come from the blocks
            "HUBSPOT_BASE_URL": simulator.url,
            "HUBSPOT_MAX_RETRIES": "1",
            "AFFILIATE_REGISTRY_PATH": str(registry_path),
            "AFFILIATE_CACHE_PATH": str(cache_path),
            "AFFILIATE_ALERT_EMAIL_TO": "ops@example.test",
            "AFFILIATE_ALERT_EMAIL_FROM": "affiliate-sync@example.test",
        }
        stack.worker_log = root / "worker.log"
        stack.worker = start_process(
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process"],
            env=worker_env, log=stack.worker_log, cwd=root,
        )
        stack.procs.append(stack.worker)

        setup = stack.run(
            sys.executable, str(PROJECT_DIR / "deployments" / "setup.py"), "--token-from-env", "--smtp-from-env",
            "--name", "hourly", "--name", "daily",  # the ops tools' deployments have their own tests
            env={
                "HUBSPOT_API_TOKEN": TOKEN,
                "AFFILIATE_SMTP_HOST": "127.0.0.1",
                "AFFILIATE_SMTP_PORT": str(smtp.port),
                "AFFILIATE_SMTP_TYPE": "INSECURE",
            },
            timeout=300,
        )
        assert setup.returncode == 0, setup.stdout + setup.stderr
        park_next_scheduled_run(stack)

        def worker_online() -> bool:
            with stack.client() as client:
                return any(w.last_heartbeat_time for w in client.read_workers_for_work_pool(POOL))

        wait_until(worker_online, 60, "the worker's first heartbeat", stack.worker_log)
        yield stack
    finally:
        for proc in reversed(stack.procs):
            stop_process(proc)
        simulator.stop()
        smtp.stop()


def park_next_scheduled_run(stack: Stack) -> None:
    """Move the schedule's next run a day ahead, so no hourly run fires mid-test at minute 0.

    The test for scheduled runs brings this very run back to now. (The scheduler does not
    recreate it: the run keeps its idempotency key for that time slot.)
    """
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter
    from prefect.states import Scheduled

    def scheduled_runs() -> list[Any]:
        dep = stack.deployment("affiliate-hubspot-sync/hourly")
        with stack.client() as client:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
                flow_run_filter=FlowRunFilter(),
            )
        return [r for r in runs if r.auto_scheduled and r.state and r.state.is_scheduled()]

    runs = wait_until(scheduled_runs, 60, "the scheduler to create the hourly runs")
    nxt = min(runs, key=lambda r: r.expected_start_time)
    with stack.client() as client:
        client.set_flow_run_state(
            nxt.id, Scheduled(scheduled_time=datetime.now(UTC) + timedelta(days=1)), force=True
        )
    stack.parked_scheduled_run = nxt  # the slot after it is an hour later: the tests end long before
