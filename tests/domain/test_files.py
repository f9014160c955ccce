"""The sync lock: one holder at a time, released by the kernel when its holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from affiliate_sync.files import LockHeld, file_lock


def test_second_holder_is_refused_while_the_first_holds(tmp_path: Path) -> None:
    lock = tmp_path / "affiliate_hubspot_sync.lock"
    with file_lock(lock, blocking=False):
        with pytest.raises(LockHeld):
            with file_lock(lock, blocking=False):
                pass
    with file_lock(lock, blocking=False):
        pass


def test_lock_of_a_killed_process_does_not_block_the_next_run(tmp_path: Path) -> None:
    lock = tmp_path / "affiliate_hubspot_sync.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time; from pathlib import Path; from affiliate_sync.files import file_lock\n"
         f"with file_lock(Path({str(lock)!r})):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(LockHeld):
        with file_lock(lock, blocking=False):
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    with file_lock(lock, blocking=False):
        assert lock.exists()
