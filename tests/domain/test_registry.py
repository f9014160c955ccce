"""SPEC §3: three registry shapes, strict validation, write-back that only touches job fields."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest

from affiliate_sync.errors import RegistryError
from affiliate_sync.files import file_lock
from affiliate_sync.registry import PartnerUpdate, RegistryShape, apply_updates, load_registry, lock_path_for

A = "AP-20240115-ABC123"
B = "AP-20241399-ZZ9ZZ9"  # the date part is not a real date, and that is fine


def entry(pid: str, **extra: object) -> dict:
    base = {"partner_id": pid, "name": "Zoë Ünal", "email": f"{pid.lower()}@example.com", "status": "active",
            "level": "starter", "password_hash": "$2b$12$abc", "oauth": {"provider": "google", "sub": "1"},
            "terms_accepted_at": "2026-01-01T00:00:00Z", "is_admin": False}
    base.update(extra)
    return base


def shapes() -> dict[RegistryShape, object]:
    entries = [entry(A), entry(B, status="pending_verification", hubspot_object_id="77")]
    return {
        RegistryShape.LIST: entries,
        RegistryShape.KEYED: {e["partner_id"]: e for e in entries},
        RegistryShape.WRAPPED: {"partners": entries, "schema": 3},
    }


@pytest.mark.parametrize("shape", list(RegistryShape))
def test_every_shape_loads_and_writes_back_in_the_same_shape(tmp_path: Path, shape: RegistryShape) -> None:
    path = tmp_path / "affiliate_partners.json"
    path.write_text(json.dumps(shapes()[shape]))
    registry = load_registry(path)
    assert registry.shape is shape
    assert [p.partner_id for p in registry.active] == [A]
    assert registry.find(B).hubspot_record_id == "77"

    result = apply_updates(path, {A: PartnerUpdate(level="pro", hubspot_record_id="501"), B: PartnerUpdate(hubspot_record_id="78")})
    assert result.written
    after = json.loads(path.read_text())
    expected = shapes()[shape]
    entries = {RegistryShape.LIST: lambda d: d, RegistryShape.KEYED: lambda d: list(d.values()),
               RegistryShape.WRAPPED: lambda d: d["partners"]}[shape]
    first, second = entries(after)
    assert first == {**entries(expected)[0], "level": "pro", "hubspot_affiliate_record_id": "501"}
    # legacy alias is updated in place rather than a second key being added
    assert second == {**entries(expected)[1], "hubspot_object_id": "78"}
    if shape is RegistryShape.WRAPPED:
        assert after["schema"] == 3


def test_unknown_fields_survive_untouched(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    original = [entry(A, referral_codes=["X", {"nested": [1, 2.5, None]}], notes="ü ☃")]
    path.write_text(json.dumps(original))
    apply_updates(path, {A: PartnerUpdate(level="partner")})
    (after,) = json.loads(path.read_text())
    assert {k: v for k, v in after.items() if k != "level"} == {k: v for k, v in original[0].items() if k != "level"}


def test_dry_run_reports_changes_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps([entry(A)]))
    before = path.read_bytes()
    result = apply_updates(path, {A: PartnerUpdate(level="pro")}, dry_run=True)
    assert result.changed == {A: {"level": ("starter", "pro")}} and not result.written
    assert path.read_bytes() == before


def test_no_change_means_no_write(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps([entry(A)]))
    mtime = path.stat().st_mtime_ns
    assert not apply_updates(path, {A: PartnerUpdate(level="starter")}).written
    assert path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("{not json", "not valid JSON"),
        ('"a string"', "top level must be"),
        (json.dumps([entry(A), entry(A)]), "duplicate partner_id AP-20240115-ABC123"),
        (json.dumps([entry("AP-2024-ABC")]), "'partner_id' 'AP-2024-ABC' is not"),
        (json.dumps([entry("ap-20240115-abc123")]), "is not AP-"),
        (json.dumps([{k: v for k, v in entry(A).items() if k != "status"}]), "field 'status' is missing"),
        (json.dumps([entry(A, status="banned")]), "field 'status' is 'banned'"),
        (json.dumps([entry(A, name=42)]), "field 'name' must be a string"),
        (json.dumps([entry(A, email=["x"])]), "field 'email' must be a string"),
        (json.dumps([7]), "must be an object"),
        (json.dumps({"partners": {"a": 1}}), "'partners' must be a list"),
        (json.dumps({B: entry(A)}), "key does not match"),
    ],
)
def test_bad_registry_is_a_clear_error_naming_file_and_problem(tmp_path: Path, document: str, problem: str) -> None:
    path = tmp_path / "affiliate_partners.json"
    path.write_text(document)
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_missing_registry_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="AFFILIATE_REGISTRY_PATH"):
        load_registry(tmp_path / "nope.json")


def test_bad_registry_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text("[{]")
    with pytest.raises(RegistryError):
        apply_updates(path, {A: PartnerUpdate(level="pro")})
    assert path.read_text() == "[{]"


def _web_app_registers(path: str, partner_id: str, started: multiprocessing.Event) -> None:
    # The web app's side of the contract: take the registry lock, read, append, write.
    with file_lock(lock_path_for(Path(path))):
        started.set()
        data = json.loads(Path(path).read_text())
        time.sleep(0.3)
        data.append(entry(partner_id, status="pending_verification"))
        Path(path).write_text(json.dumps(data))


def test_partner_registered_during_write_back_is_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps([entry(A)]))
    newcomer = "AP-20261204-NEW001"
    started = multiprocessing.Event()
    writer = multiprocessing.Process(target=_web_app_registers, args=(str(path), newcomer, started))
    writer.start()
    assert started.wait(10)
    apply_updates(path, {A: PartnerUpdate(level="pro", hubspot_record_id="9")})
    writer.join(10)
    after = {e["partner_id"]: e for e in json.loads(path.read_text())}
    assert set(after) == {A, newcomer}
    assert after[A]["level"] == "pro" and after[A]["hubspot_affiliate_record_id"] == "9"
    assert after[newcomer]["password_hash"] == "$2b$12$abc"
