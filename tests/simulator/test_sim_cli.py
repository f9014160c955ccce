"""`python -m affiliate_sync.simulator` serves generated data and writes the matching registry."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from simtest_helpers import http_client

ROOT = Path(__file__).resolve().parents[2]


def test_standalone_server_with_registry(tmp_path: Path) -> None:
    registry = tmp_path / "affiliate_partners.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "affiliate_sync.simulator", "--port", "0", "--partners", "20", "--seed", "1", "--token", "X", "--registry-out", str(registry), "--registry-shape", "wrapped"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        deadline = time.monotonic() + 20
        while url is None and time.monotonic() < deadline:  # bounded wait for the banner
            line = process.stdout.readline() if process.stdout else ""
            if not line and process.poll() is not None:
                break
            match = re.search(r"on (http://127\.0\.0\.1:\d+)", line)
            url = match.group(1) if match else None
        assert url is not None, "the simulator did not start"
        partners = json.loads(registry.read_text(encoding="utf-8"))["partners"]
        assert sum(1 for p in partners if p["status"] == "active") == 20
        with http_client(url, token="X") as http:
            total = http.post("/crm/v3/objects/contacts/search", json={}).json()["total"]
            assert total == 20 * 20 + 20 * 10
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
