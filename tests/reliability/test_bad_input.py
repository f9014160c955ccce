"""Bad input: a broken registry stops the run cleanly; a broken cache is reported and replaced;
a cache that cannot be written fails the run with the previous file intact.

`affiliate-sync run` is driven in-process through typer's CliRunner (same command, same exit
codes, a second per case) and, where the operating system must do the refusing (permissions,
a full disk), as a real subprocess.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from .conftest import World
from .reliability_support import CACHE_NAME, LOCK_NAME, error_lines, record_figures, temp_files
from typer.testing import CliRunner

from affiliate_sync.cache import read_cache
from affiliate_sync.errors import ErrorCode, RegistryError
from affiliate_sync.registry import load_registry
from flows.cli import app


def cli_run(world: World, *args: str) -> tuple[int, str, str]:
    """`affiliate-sync run` in this process; output recorded for the leak guard."""
    result = CliRunner().invoke(app, ["run", *args], catch_exceptions=False)
    world.guard.add("cli-runner stdout", result.stdout)
    world.guard.add("cli-runner stderr", result.stderr)
    return result.exit_code, result.stdout, result.stderr


# --------------------------------------------------------------------------- the registry


def _entries(world: World) -> list[dict[str, Any]]:
    return json.loads(world.baseline.original_registry_bytes)


def _with(mutate: Callable[[list[dict[str, Any]]], Any]) -> Callable[[World], bytes]:
    def build(world: World) -> bytes:
        entries = _entries(world)
        document = mutate(entries)
        return json.dumps(entries if document is None else document, ensure_ascii=False, indent=2).encode()
    return build


def _active_index(entries: list[dict[str, Any]]) -> int:
    return next(i for i, e in enumerate(entries) if e["status"] == "active")


def _set(field: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def mutate(entries: list[dict[str, Any]]) -> None:
        entries[_active_index(entries)][field] = value
    return mutate


def _drop(field: str) -> Callable[[list[dict[str, Any]]], None]:
    def mutate(entries: list[dict[str, Any]]) -> None:
        del entries[_active_index(entries)][field]
    return mutate


def _duplicate(entries: list[dict[str, Any]]) -> None:
    entries.append(dict(entries[_active_index(entries)], name="Second registration"))


REGISTRY_CASES: dict[str, tuple[Callable[[World], bytes], str]] = {
    "not-json": (lambda w: w.baseline.original_registry_bytes[:-40], "not valid JSON (line"),
    "empty-file": (lambda w: b"", "not valid JSON"),
    "not-utf8": (lambda w: b"\xff\xfe[\x00]", "cannot be read"),
    "top-level-string": (lambda w: b'"affiliate partners"', "top level must be a list of partners"),
    "wrapped-partners-not-a-list": (lambda w: b'{"partners": {"AP-20240101-ABC123": {}}}', "field 'partners' must be a list"),
    "entry-not-an-object": (_with(lambda e: e.append("AP-20240101-ABC123")), "must be an object, not str"),
    "duplicate-partner-id": (_with(_duplicate), "duplicate partner_id"),
    "malformed-partner-id": (_with(_set("partner_id", "AP-2024-01-01-abc")), "is not AP-<8 digits>-<6 upper-case letters or digits>"),
    "missing-partner-id": (_with(_drop("partner_id")), "field 'partner_id' is missing or not a string"),
    "missing-status": (_with(_drop("status")), "field 'status' is missing"),
    "unknown-status": (_with(_set("status", "suspended")), "field 'status' is 'suspended'; expected one of"),
    "name-not-a-string": (_with(_set("name", 12345)), "field 'name' must be a string, not int"),
    "record-id-not-scalar": (_with(_set("hubspot_affiliate_record_id", [1, 2])), "must be a string or a number"),
    "keyed-key-mismatch": (
        _with(lambda e: {("AP-20240101-ZZZ999" if i == 0 else p["partner_id"]): p for i, p in enumerate(e)}),
        "key does not match its partner_id",
    ),
}


# Variants of the cases above that take the same code path: checked on the reader alone (milliseconds).
SAME_PATH_CASES: dict[str, tuple[Callable[[World], bytes], str]] = {
    "lower-case-partner-id": (_with(lambda e: e[0].update(partner_id=e[0]["partner_id"].lower())), "is not AP-<8 digits>"),
    "status-wrong-case": (_with(_set("status", "Active")), "field 'status' is 'Active'"),
    "top-level-number": (lambda w: b"42", "not int"),
    "email-not-a-string": (_with(_set("email", ["a@example.test"])), "field 'email' must be a string, not list"),
    "level-not-a-string": (_with(_set("level", {"value": "pro"})), "field 'level' must be a string, not dict"),
}


@pytest.mark.parametrize("case", sorted(REGISTRY_CASES))
def test_bad_registry_exits_1_naming_file_and_problem_and_writes_nothing(world: World, case: str) -> None:
    build, problem = REGISTRY_CASES[case]
    world.registry_path.write_bytes(build(world))
    registry_before = world.registry_path.read_bytes()

    code, out, err = cli_run(world)

    assert code == 1
    [line] = error_lines(err)
    assert "[registry_invalid]" in line and str(world.registry_path) in line and problem in line, line
    assert world.registry_path.read_bytes() == registry_before
    assert world.cache_path.read_bytes() == world.previous_cache_bytes
    assert temp_files(world.directory) == []
    assert world.sim.stats.count() == 0  # stopped before any HubSpot call
    [mail] = world.mails()
    assert "Error code: registry_invalid" in mail.text


def test_missing_registry_names_the_variable(world: World) -> None:
    world.registry_path.unlink()
    code, out, err = cli_run(world)
    assert code == 1
    [line] = error_lines(err)
    assert "[registry_invalid]" in line and "file not found" in line and "AFFILIATE_REGISTRY_PATH" in line
    assert world.cache_path.read_bytes() == world.previous_cache_bytes
    assert not world.registry_path.exists()


@pytest.mark.parametrize("case", sorted(SAME_PATH_CASES))
def test_more_bad_registries_are_refused_by_the_reader(world: World, case: str) -> None:
    build, problem = SAME_PATH_CASES[case]
    world.registry_path.write_bytes(build(world))
    with pytest.raises(RegistryError) as caught:
        load_registry(world.registry_path)
    assert str(world.registry_path) in str(caught.value) and problem in str(caught.value)
    assert caught.value.code is ErrorCode.REGISTRY_INVALID


def test_five_megabytes_of_unicode_names_sync_quickly_and_round_trip(world: World) -> None:
    """Decision: long names are data, not an error. They pass through to the cache unchanged and
    survive the registry write-back byte for byte; the run stays fast."""
    entries = _entries(world)
    pieces = "山田太郎·Zoë Ångström-Łukasiewicz·Μαρία Παπαδοπούλου·Иван Петров·محمد علي·👩🏽‍💻·"
    active = [e for e in entries if e["status"] == "active"]
    per_partner = 5_000_000 // len(active) // len(pieces.encode())
    for i, entry in enumerate(active):
        entry["name"] = f"{i} " + pieces * per_partner
    world.registry_path.write_text(json.dumps(entries, ensure_ascii=False, indent=2), encoding="utf-8")
    assert world.registry_path.stat().st_size > 5_000_000

    started = time.monotonic()
    code, out, err = cli_run(world)
    elapsed = time.monotonic() - started

    assert code == 0, err[-2000:]
    assert elapsed < 60, f"{elapsed:.1f} s"
    cache = read_cache(world.cache_path)
    for entry in active:
        assert cache["partners"][entry["partner_id"]]["name"] == entry["name"]
    written = {e["partner_id"]: e for e in json.loads(world.registry_path.read_text(encoding="utf-8"))}
    assert all(written[e["partner_id"]]["name"] == e["name"] for e in entries)
    expected = {e["partner_id"]: e for e in json.loads(world.baseline.registry_bytes)}
    assert all(written[p]["level"] == expected[p].get("level") for p in written)
    record_figures("bad_input", "registry-5mb-unicode-names", {"registry_bytes": world.registry_path.stat().st_size,
                                                               "cache_bytes": world.cache_path.stat().st_size,
                                                               "seconds": round(elapsed, 2), "exit": code})


# --------------------------------------------------------------------------- the cache


def _truncated(world: World) -> bytes:
    return world.previous_cache_bytes[: len(world.previous_cache_bytes) // 2]


CACHE_CASES: dict[str, tuple[Callable[[World], bytes], str]] = {
    "corrupt": (lambda w: b"\x00\x13garbage{{{" * 100, "corrupt JSON"),
    "truncated": (_truncated, "corrupt JSON"),
    "wrong-version": (lambda w: w.previous_cache_bytes.replace(b'"version": "1.0"', b'"version": "0.9"'),
                      "version '0.9' is not the supported '1.0'"),
    "wrong-top-level": (lambda w: b"[]\n", "top level must be an object"),
    "wrong-field-type": (lambda w: w.previous_cache_bytes.replace(b'"leads": {', b'"leads": [], "x": {', 1),
                         "field 'leads'"),
}


@pytest.mark.parametrize("case", sorted(CACHE_CASES))
def test_broken_cache_exits_1_naming_file_and_problem_and_is_never_overwritten(world: World, case: str) -> None:
    """Decision (docs/DECISIONS.md): the sync never overwrites a cache it cannot read. It stops
    before any HubSpot call with `cache_invalid`, naming the file and the problem; health says
    the same with exit 1; the alert tells ops to move the file aside."""
    build, problem = CACHE_CASES[case]
    broken = build(world)
    world.cache_path.write_bytes(broken)

    health = CliRunner().invoke(app, ["health"], catch_exceptions=False)
    world.guard.add("health", health.stdout + health.stderr)
    assert health.exit_code == 1
    assert str(world.cache_path) in health.stderr + health.stdout and problem in health.stderr + health.stdout

    code, out, err = cli_run(world)

    assert code == 1
    [line] = error_lines(err)
    assert "[cache_invalid]" in line and str(world.cache_path) in line and problem in line, line
    assert "move the file aside" in line
    assert world.cache_path.read_bytes() == broken
    assert world.registry_path.read_bytes() == world.baseline.original_registry_bytes
    assert temp_files(world.directory) == []
    assert world.sim.stats.count() == 0  # stopped before any HubSpot call
    [mail] = world.mails()
    assert "Error code: cache_invalid" in mail.text


# --------------------------------------------------------------------------- the operating system refuses


def _split_dirs(world: World, monkeypatch: pytest.MonkeyPatch, cache_dir: Path, *, lock_file: bool = True) -> None:
    """The cache (and its sync lock) in `cache_dir`, the registry where it was (a separate directory,
    as when the dashboards' data volume is not the web app's)."""
    cache_dir.mkdir(exist_ok=True)
    shutil.move(str(world.cache_path), cache_dir / CACHE_NAME)
    monkeypatch.setenv("AFFILIATE_CACHE_PATH", str(cache_dir / CACHE_NAME))
    if lock_file:
        (cache_dir / LOCK_NAME).touch()  # the lock file a previous run left (the kernel lock is long gone)


def _assert_cache_write_failed(world: World, done: subprocess.CompletedProcess[str], cache: Path, problem: str) -> None:
    assert done.returncode == 1, done.stderr[-3000:]
    [line] = error_lines(done.stderr)
    assert "[cache_write_failed]" in line and str(cache.parent) in line and problem in line, line
    assert cache.read_bytes() == world.previous_cache_bytes  # the dashboards keep the last good cache
    assert temp_files(cache.parent) == []
    # The registry is written before the cache (levels and record ids): it is the correct new
    # version or, when the run stopped earlier, the original; never anything else.
    assert world.registry_path.read_bytes() in (world.baseline.registry_bytes, world.baseline.original_registry_bytes)
    load_registry(world.registry_path)
    world.guard.add("error line", line)


def _without_dac_override() -> list[str]:
    """As root, permissions do not stop writes: drop CAP_DAC_OVERRIDE for the subprocess."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a directory unwritable")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


@pytest.mark.parametrize("lock_file", [True, False], ids=["lock-file-left-by-earlier-runs", "first-run-no-lock-file"])
def test_unwritable_cache_directory_fails_cleanly_through_the_cli(
    world: World, monkeypatch: pytest.MonkeyPatch, lock_file: bool
) -> None:
    cache_dir = world.directory.parent / "dashboard-data"
    _split_dirs(world, monkeypatch, cache_dir, lock_file=lock_file)
    os.chmod(cache_dir, 0o555)
    try:
        done = world.run_cli("run", prefix=_without_dac_override())
    finally:
        os.chmod(cache_dir, 0o755)
    _assert_cache_write_failed(world, done, cache_dir / CACHE_NAME, "Permission denied")
    if not lock_file:  # stopped at the lock, before any write
        assert world.registry_path.read_bytes() == world.baseline.original_registry_bytes


def test_unwritable_registry_directory_fails_cleanly_through_the_cli(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_dir = world.directory.parent / "dashboard-data"
    _split_dirs(world, monkeypatch, cache_dir)
    os.chmod(world.directory, 0o555)  # the registry file stays writable, its directory does not
    try:
        done = world.run_cli("run", prefix=_without_dac_override())
    finally:
        os.chmod(world.directory, 0o755)
    assert done.returncode == 1, done.stderr[-3000:]
    [line] = error_lines(done.stderr)
    assert "[registry_invalid]" in line and str(world.registry_path) in line and "cannot be written" in line, line
    assert "Permission denied" in line
    assert world.registry_path.read_bytes() == world.baseline.original_registry_bytes
    assert (cache_dir / CACHE_NAME).read_bytes() == world.previous_cache_bytes  # stopped before the cache
    assert temp_files(world.directory) == [] and temp_files(cache_dir) == []


@pytest.fixture()
def small_disk(world: World) -> Iterator[tuple[Path, Callable[[], None] | None]]:
    """A directory on a tmpfs just big enough for the previous cache (root), else None."""
    mount_point = world.directory.parent / "small-disk"
    mount_point.mkdir()
    size_kib = len(world.previous_cache_bytes) // 1024 + 48
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(mount_point)], capture_output=True
    ).returncode == 0
    try:
        yield mount_point, (None if mounted else _file_size_limit(len(world.previous_cache_bytes) // 2))
    finally:
        if mounted:
            subprocess.run(["umount", str(mount_point)], check=False)


def _file_size_limit(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


def test_full_disk_fails_cleanly_through_the_cli(world: World, monkeypatch: pytest.MonkeyPatch, small_disk) -> None:
    mount_point, preexec = small_disk
    _split_dirs(world, monkeypatch, mount_point)
    done = world.run_cli("run", preexec_fn=preexec)
    problem = "No space left on device" if preexec is None else "File too large"
    _assert_cache_write_failed(world, done, mount_point / CACHE_NAME, problem)
    world.guard.add("how", "tmpfs" if preexec is None else "RLIMIT_FSIZE")
