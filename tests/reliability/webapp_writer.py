"""Stand-in for the partner web app: registers and edits partners in a loop while the sync runs.

    python tests/reliability/webapp_writer.py --registry PATH --cache PATH --out OUT.json --stop STOPFILE

Each iteration, under the registry lock (`flock` on `<registry>.lock`, SPEC §3, as the web app
must take it): read the registry, register one new partner (every field a registration
writes, including secrets-like fields the job must carry through), edit web-app fields of an
existing partner (last login, profile), write the file atomically with the web app's own
writer (temp file, fsync, rename). Between iterations it reads the registry and the cache
*without* the lock, as the dashboards and the web app's read paths do, and counts any read
that does not parse (a torn file).

Bounded: stops at STOPFILE, after --max-iterations, or after --max-seconds. Writes OUT: the
partners it added (as written), the last values it gave each edited partner, the times of
its writes, and the torn-read counts.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def _atomic_write(path: Path, document: Any) -> None:
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _parses(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except FileNotFoundError:
        return True
    except ValueError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registry", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--stop", type=Path, required=True)
    parser.add_argument("--ready", type=Path, help="touched after the first write")
    parser.add_argument("--max-iterations", type=int, default=5_000)
    parser.add_argument("--max-seconds", type=float, default=90.0)
    args = parser.parse_args()

    lock_path = args.registry.with_name(args.registry.name + ".lock")
    added: list[dict[str, Any]] = []
    edited: dict[str, dict[str, Any]] = {}
    write_times: list[float] = []
    torn = {"registry": 0, "cache": 0}
    reads = 0
    deadline = time.monotonic() + args.max_seconds
    for n in range(args.max_iterations):
        if args.stop.exists() or time.monotonic() > deadline:
            break
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            entries = json.loads(args.registry.read_text(encoding="utf-8"))
            partner = {
                "partner_id": f"AP-20260601-W{n:05d}",
                "name": f"Web-App Partnerin Nº{n} — Zoë Łukasiewicz",
                "email": f"webapp-{n}@partner.example",
                "status": ("active", "pending_verification", "inactive")[n % 3],
                "registration_date": "2026-06-01",
                "password_hash": f"$argon2id$v=19$m=65536,t=3,p=4$webapp{n:05d}",
                "oauth": {"provider": "google", "subject": f"1098{n:08d}"},
                "terms_accepted_at": "2026-06-01T10:00:00Z",
                "is_admin": False,
            }
            entries.append(partner)
            target = entries[n % max(1, len(entries) - 1)]
            change = {"last_login_at": f"2026-06-01T10:{n // 60 % 60:02d}:{n % 60:02d}Z",
                      "profile": {"bio": f"edit {n}", "website": f"https://p{n}.example"}}
            target.update(change)
            edited[target["partner_id"]] = change
            _atomic_write(args.registry, entries)
            write_times.append(time.time())
            added.append(partner)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        if args.ready is not None and n == 0:
            args.ready.touch()
        for _ in range(3):  # unlocked reads, like the dashboards and the web app's pages
            reads += 1
            torn["registry"] += not _parses(args.registry)
            torn["cache"] += not _parses(args.cache)
        time.sleep(0.002)
    args.out.write_text(json.dumps({"added": added, "edited": edited, "write_times": write_times,
                                    "torn_reads": torn, "unlocked_reads": reads}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
