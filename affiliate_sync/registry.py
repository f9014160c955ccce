"""The partner registry `affiliate_partners.json` (SPEC §3).

The web app writes this file too, so the job reads it strictly (a half-understood registry
is an error naming the file, the entry and the field) and writes back only the fields it
owns, under the registry lock, after re-reading the file, in the shape it was read.
Everything else in an entry (password hashes, OAuth data, admin flags) passes through
untouched. The web app takes the same lock: `flock` on `<registry>.lock`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from affiliate_sync.errors import RegistryError
from affiliate_sync.files import atomic_write_json, file_lock, remove_stale_temp_files

PARTNER_ID_PATTERN = re.compile(r"^AP-\d{8}-[A-Z0-9]{6}$")
PartnerStatus = Literal["active", "pending_verification", "inactive"]
STATUSES: tuple[str, ...] = ("active", "pending_verification", "inactive")
RECORD_ID_FIELD = "hubspot_affiliate_record_id"
LEGACY_RECORD_ID_FIELD = "hubspot_object_id"


class RegistryShape(StrEnum):
    LIST = "list"
    KEYED = "keyed"
    WRAPPED = "wrapped"


class Partner(BaseModel):
    """The registry fields the job reads, validated."""

    model_config = ConfigDict(frozen=True)

    partner_id: str
    name: str = ""
    email: str = ""
    status: PartnerStatus
    level: str | None = None
    hubspot_record_id: str | None = None


@dataclass
class Registry:
    """A registry as read: its shape, the raw document, and the validated partners."""

    path: Path
    shape: RegistryShape
    document: Any
    partners: list[Partner]

    @property
    def active(self) -> list[Partner]:
        return [partner for partner in self.partners if partner.status == "active"]

    def find(self, partner_id: str) -> Partner | None:
        wanted = partner_id.strip().upper()
        return next((p for p in self.partners if p.partner_id == wanted), None)


@dataclass(frozen=True)
class PartnerUpdate:
    """The job-owned fields to write for one partner; None leaves a field as it is."""

    level: str | None = None
    hubspot_record_id: str | None = None


@dataclass
class RegistryWriteResult:
    changed: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    written: bool = False


def lock_path_for(registry_path: Path) -> Path:
    return registry_path.with_name(registry_path.name + ".lock")


def load_registry(path: Path) -> Registry:
    """Read and validate the registry; any problem is a `RegistryError` naming file and entry."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError(f"registry {path}: file not found (set AFFILIATE_REGISTRY_PATH)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"registry {path}: cannot be read: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryError(
            f"registry {path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    shape, entries = _entries(path, document)
    partners: list[Partner] = []
    seen: dict[str, str] = {}
    for where, key, entry in entries:
        partner = _parse_entry(path, where, key, entry)
        if partner.partner_id in seen:
            raise RegistryError(
                f"registry {path}: duplicate partner_id {partner.partner_id} "
                f"({seen[partner.partner_id]} and {where})"
            )
        seen[partner.partner_id] = where
        partners.append(partner)
    return Registry(path=path, shape=shape, document=document, partners=partners)


def _entries(path: Path, document: Any) -> tuple[RegistryShape, list[tuple[str, str | None, Any]]]:
    if isinstance(document, list):
        return RegistryShape.LIST, [(f"entry [{i}]", None, e) for i, e in enumerate(document)]
    if isinstance(document, dict) and "partners" in document:
        partners = document["partners"]
        if not isinstance(partners, list):
            raise RegistryError(
                f"registry {path}: field 'partners' must be a list, not {type(partners).__name__}"
            )
        return RegistryShape.WRAPPED, [
            (f"partners[{i}]", None, e) for i, e in enumerate(partners)
        ]
    if isinstance(document, dict):
        return RegistryShape.KEYED, [(f"entry '{k}'", k, e) for k, e in document.items()]
    raise RegistryError(
        f"registry {path}: top level must be a list of partners, an object keyed by partner id "
        f"or {{\"partners\": [...]}}, not {type(document).__name__}"
    )


def _parse_entry(path: Path, where: str, key: str | None, entry: Any) -> Partner:
    def fail(problem: str) -> RegistryError:
        return RegistryError(f"registry {path}: {where}: {problem}")

    if not isinstance(entry, dict):
        raise fail(f"must be an object, not {type(entry).__name__}")
    partner_id = entry.get("partner_id", key)
    if not isinstance(partner_id, str):
        raise fail("field 'partner_id' is missing or not a string")
    if not PARTNER_ID_PATTERN.match(partner_id):
        raise fail(f"field 'partner_id' {partner_id!r} is not AP-<8 digits>-<6 upper-case letters or digits>")
    if key is not None and key != partner_id:
        raise fail(f"key does not match its partner_id {partner_id!r}")
    where = f"{where} ({partner_id})" if key is None else where
    status = entry.get("status")
    if status is None:
        raise fail("field 'status' is missing")
    if status not in STATUSES:
        raise fail(f"field 'status' is {status!r}; expected one of {', '.join(STATUSES)}")
    for name in ("name", "email", "level"):
        value = entry.get(name)
        if value is not None and not isinstance(value, str):
            raise fail(f"field '{name}' must be a string, not {type(value).__name__}")
    record_id = entry.get(RECORD_ID_FIELD) or entry.get(LEGACY_RECORD_ID_FIELD)
    if record_id is not None and not isinstance(record_id, (str, int)) or isinstance(record_id, bool):
        raise fail(f"field '{RECORD_ID_FIELD}' must be a string or a number")
    return Partner(
        partner_id=partner_id,
        name=entry.get("name") or "",
        email=entry.get("email") or "",
        status=status,
        level=entry.get("level"),
        hubspot_record_id=str(record_id) if record_id not in (None, "") else None,
    )


def _entry_dicts(registry: Registry) -> Iterable[tuple[str, dict[str, Any]]]:
    document = registry.document
    if registry.shape is RegistryShape.KEYED:
        for key, entry in document.items():
            yield entry.get("partner_id", key), entry
        return
    entries = document["partners"] if registry.shape is RegistryShape.WRAPPED else document
    for entry in entries:
        yield entry["partner_id"], entry


def _apply(entry: dict[str, Any], update: PartnerUpdate) -> dict[str, tuple[Any, Any]]:
    changes: dict[str, tuple[Any, Any]] = {}
    if update.level is not None and entry.get("level") != update.level:
        changes["level"] = (entry.get("level"), update.level)
        entry["level"] = update.level
    if update.hubspot_record_id is not None:
        # Keep writing the legacy key where an entry only has that one, so older readers still work.
        key = (
            LEGACY_RECORD_ID_FIELD
            if LEGACY_RECORD_ID_FIELD in entry and RECORD_ID_FIELD not in entry
            else RECORD_ID_FIELD
        )
        if str(entry.get(key) or "") != update.hubspot_record_id:
            changes[key] = (entry.get(key), update.hubspot_record_id)
            entry[key] = update.hubspot_record_id
    return changes


def apply_updates(
    path: Path, updates: Mapping[str, PartnerUpdate], *, dry_run: bool = False
) -> RegistryWriteResult:
    """Write job-owned fields under the registry lock, re-reading first so concurrent additions survive.

    Partners in `updates` that vanished from the file meanwhile are reported, not re-added.
    A lock or temp file that cannot be created (read-only directory, full disk) is a
    `RegistryError` naming the registry; the file itself is then unchanged.
    """
    try:
        return _apply_updates_locked(path, updates, dry_run=dry_run)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
        raise RegistryError(f"registry {path}: cannot be written: {exc.strerror or exc}{where}") from exc


def _apply_updates_locked(
    path: Path, updates: Mapping[str, PartnerUpdate], *, dry_run: bool
) -> RegistryWriteResult:
    with file_lock(lock_path_for(path)):
        registry = load_registry(path)
        result = RegistryWriteResult()
        present: set[str] = set()
        for partner_id, entry in _entry_dicts(registry):
            present.add(partner_id)
            update = updates.get(partner_id)
            if update is None:
                continue
            changes = _apply(entry, update)
            if changes:
                result.changed[partner_id] = changes
        result.missing = sorted(set(updates) - present)
        if not dry_run:
            remove_stale_temp_files(path)  # left by a writer killed mid-write; we hold the lock
        if result.changed and not dry_run:
            atomic_write_json(path, registry.document)
            result.written = True
        return result
