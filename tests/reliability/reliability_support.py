"""Shared pieces of the reliability suite: the recognisable token, the leak guard, the SMTP sink,
CLI subprocess runs against the session's Prefect test API, and file-state helpers.

Imported by `conftest.py` and the test modules as `.reliability_support` (this folder is a
package, so nothing here shadows the `conftest` module other test folders import from).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mail_sink import SmtpSink  # the inbox shared with tests/alerts and tests/deploy


ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "flows.cli"]

# Recognisable on purpose: if it shows up anywhere, grep finds it. Not shaped like a real
# HubSpot token either, so only exact-token redaction (not a "pat-" pattern) can hide it.
TOKEN = "RELIABILITY-canary-token-7f3a9c0ffee5b1d2"
SMTP_PASSWORD = "RELIABILITY-smtp-password-42e8"
REJECTED_TOKEN = "RELIABILITY-rotated-away-token-9b0e1c2d"  # a token HubSpot no longer accepts
SECRETS = (TOKEN, SMTP_PASSWORD, REJECTED_TOKEN)

CACHE_NAME = "affiliate_hubspot_cache.json"
REGISTRY_NAME = "affiliate_partners.json"
LOCK_NAME = "affiliate_hubspot_sync.lock"


# ---------------------------------------------------------------------------------- leak guard


def _contains_secret(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        return [s for s in SECRETS if s.encode() in text]
    return [s for s in SECRETS if s in text]


@dataclass
class LeakGuard:
    """Collects every place a secret could surface during one test and checks them all at the end.

    Places: stdout/stderr of CLI subprocesses and of this process (capfd), the Prefect logs,
    artifacts and flow-run states the test API received since the test began, the e-mails
    the SMTP sink received, and every file under the test's data directory (cache, registry,
    temp files, locks).
    """

    started: datetime
    mail_index: int
    texts: list[tuple[str, str | bytes]] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)

    def add(self, label: str, text: str | bytes | None) -> None:
        if text:
            self.texts.append((label, text))

    def collect_prefect(self) -> None:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterStartTime,
            LogFilter,
            LogFilterTimestamp,
        )
        from prefect.client.schemas.sorting import ArtifactSort
        from prefect.logging.handlers import APILogHandler

        APILogHandler().flush()  # blocks until this process's queued logs are sent
        with get_client(sync_client=True) as client:
            logs = []
            for offset in range(0, 100_000, 200):
                batch = client.read_logs(
                    LogFilter(timestamp=LogFilterTimestamp(after_=self.started)), limit=200, offset=offset
                )
                logs.extend(batch)
                if len(batch) < 200:
                    break
            for log in logs:
                self.add(f"prefect log ({log.name})", log.message)
            artifacts = [
                a for a in client.read_artifacts(sort=ArtifactSort.CREATED_DESC, limit=200)
                if a.created is not None and a.created >= self.started
            ]
            for artifact in artifacts:
                self.add(f"artifact {artifact.key}", json.dumps(artifact.data, default=str))
                self.add(f"artifact {artifact.key} description", artifact.description or "")
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=self.started))
            )
            for run in runs:
                self.add(f"flow run {run.name} state", (run.state.message or "") if run.state else "")
                self.add(f"flow run {run.name} parameters", json.dumps(run.parameters, default=str))
        self.checked.update(prefect_logs=len(logs), artifacts=len(artifacts), flow_runs=len(runs))

    def collect_mail(self, smtp: SmtpSink) -> None:
        mails = smtp.since(self.mail_index)
        for mail in mails:
            self.add(f"e-mail {mail.subject!r}", mail.raw)
        self.checked["emails"] = len(mails)

    def collect_files(self, directory: Path) -> None:
        files = [p for p in directory.rglob("*") if p.is_file() and not p.is_symlink()]
        for path in files:
            try:
                self.add(f"file {path.relative_to(directory)}", path.read_bytes())
            except OSError:
                pass
        self.checked["files"] = len(files)

    def leaks(self) -> list[str]:
        return [f"{label}: contains {secret[:12]}…" for label, text in self.texts for secret in _contains_secret(text)]


# ---------------------------------------------------------------------------------- subprocesses


def cli_env(changes: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This process's environment (the test's §7 variables) plus the session's Prefect test API."""
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ)
    env["PREFECT_API_URL"] = PREFECT_API_URL.value()  # no second Prefect server to start
    env["PYTHONUNBUFFERED"] = "1"
    for name, value in (changes or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_cli(
    guard: LeakGuard,
    *args: str,
    env_changes: Mapping[str, str | None] | None = None,
    prefix: Iterable[str] = (),
    preexec_fn: Callable[[], None] | None = None,
    timeout: float = 240,
) -> subprocess.CompletedProcess[str]:
    """`affiliate-sync <args>` in a subprocess; its output goes to the leak guard."""
    done = subprocess.run(
        [*prefix, *CLI, *args], capture_output=True, text=True, env=cli_env(env_changes), cwd=ROOT,
        timeout=timeout, preexec_fn=preexec_fn,
    )
    guard.add(f"cli {' '.join(args)} stdout", done.stdout)
    guard.add(f"cli {' '.join(args)} stderr", done.stderr)
    return done


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("[Affiliate Sync] error:")]


# ---------------------------------------------------------------------------------- file state


def temp_files(directory: Path) -> list[str]:
    """Leftover temp files of the atomic writer (`.<name>.<random>.tmp`)."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


def visible_files(directory: Path) -> list[str]:
    """What a reader listing the directory sees (dot-files excluded)."""
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


def without_last_sync(cache: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in cache.items() if key != "last_sync"}


# ---------------------------------------------------------------------------------- figures


def record_figures(section: str, key: str, figures: Mapping[str, Any]) -> None:
    """Merge one scenario's observed figures into $RELIABILITY_FIGURES (JSON), when it is set.

    The full run behind docs/RELIABILITY.md sets it (command there); CI leaves it unset.
    """
    target = os.environ.get("RELIABILITY_FIGURES")
    if not target:
        return
    path = Path(target)
    existing = json.loads(path.read_text()) if path.exists() else {}
    existing.setdefault(section, {})[key] = dict(figures)
    path.write_text(json.dumps(existing, indent=2, sort_keys=True, default=str) + "\n")
