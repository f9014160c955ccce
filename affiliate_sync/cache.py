"""The dashboard cache `affiliate_hubspot_cache.json` (SPEC §5): its contract, reader and writer.

Keys may be added, never removed or renamed. Readers get an empty structure when the file is
missing and a `CacheError` naming the file and the problem when it is corrupt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from affiliate_sync.errors import CacheError, CacheWriteError
from affiliate_sync.files import atomic_write_text, remove_stale_temp_files
from affiliate_sync.money import PartnerMrr
from affiliate_sync.registry import Partner
from affiliate_sync.settings import CACHE_VERSION

Record = dict[str, Any]


class CacheDocument(BaseModel):
    """The cache's top-level shape; extra keys are allowed (added keys never break readers)."""

    model_config = ConfigDict(extra="allow")

    version: str
    last_sync: datetime | None = None
    partners: dict[str, dict[str, Any]] = {}
    leads: dict[str, list[dict[str, Any]]] = {}
    deals: dict[str, list[dict[str, Any]]] = {}
    mrr_summary: dict[str, dict[str, Any]] = {}


def empty_cache() -> dict[str, Any]:
    return {
        "version": CACHE_VERSION,
        "last_sync": None,
        "partners": {},
        "leads": {},
        "deals": {},
        "mrr_summary": {},
    }


def read_cache(path: Path) -> dict[str, Any]:
    """The cache as a dict: empty structure when missing, `CacheError` when unreadable or invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return empty_cache()
    except (OSError, UnicodeDecodeError) as exc:
        raise CacheError(f"cache {path}: cannot be read: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CacheError(
            f"cache {path}: corrupt JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(document, dict):
        raise CacheError(f"cache {path}: top level must be an object, not {type(document).__name__}")
    try:
        CacheDocument.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CacheError(f"cache {path}: field '{where}': {first['msg']}") from None
    if document["version"] != CACHE_VERSION:
        raise CacheError(
            f"cache {path}: version {document['version']!r} is not the supported {CACHE_VERSION!r}"
        )
    return document


def ensure_replaceable(path: Path) -> dict[str, Any]:
    """The current cache, read before a sync replaces it: a cache the job cannot understand
    (corrupt, truncated, another version) is never overwritten — it may be someone's data or
    a newer job's — so the sync stops with a `CacheError` naming the file and the problem."""
    try:
        return read_cache(path)
    except CacheError as exc:
        raise CacheError(
            f"{exc}. The sync does not overwrite a cache it cannot read: move the file aside "
            f"(e.g. `mv {path} {path}.broken`) and run the sync again"
        ) from None


def cache_has_data(cache: Mapping[str, Any]) -> bool:
    """Whether a cache holds any lead or deal (the empty-answer guard protects such a cache)."""
    return any(cache.get("leads", {}).values()) or any(cache.get("deals", {}).values())


def build_cache(
    *,
    partners: Sequence[Partner],
    leads: Mapping[str, Sequence[Record]],
    deals: Mapping[str, Sequence[Record]],
    mrr: Mapping[str, PartnerMrr],
    synced_at: datetime,
) -> dict[str, Any]:
    """The cache document for exactly these (active) partners."""
    cache = empty_cache()
    cache["last_sync"] = synced_at.isoformat(timespec="seconds")
    for partner in partners:
        pid = partner.partner_id
        summary = mrr[pid].as_json()
        partner_leads = [_slim(record) for record in leads.get(pid, ())]
        partner_deals = [_slim(record) for record in deals.get(pid, ())]
        cache["partners"][pid] = {
            "partner_id": pid,
            "name": partner.name,
            "email": partner.email,
            "level": summary["level"],
            "mrr": summary,
            "contact_count": len(partner_leads),
            "deal_count": len(partner_deals),
        }
        cache["leads"][pid] = partner_leads
        cache["deals"][pid] = partner_deals
        cache["mrr_summary"][pid] = summary
    return cache


def _slim(record: Mapping[str, Any]) -> Record:
    return {"id": str(record["id"]), "properties": dict(record.get("properties") or {})}


def encode_cache(cache: Mapping[str, Any]) -> str:
    """The cache as compact JSON (UTF-8, no indentation).

    Only programs read the cache, and `indent` switches Python's json module from its C
    encoder to the pure-Python one: on the reference load (16 MB indented, 1,000 partners,
    25,000 records) that was 0.95 s against 0.22 s compact (docs/PERFORMANCE.md).
    `python -m json.tool` pretty-prints it for a person.
    """
    return json.dumps(cache, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_cache(path: Path, cache: Mapping[str, Any]) -> None:
    """Write the cache atomically; failures become `CacheWriteError` naming the path.

    The sync is the cache's only writer and calls this holding the sync lock, so temp files
    of an earlier killed write are removed first (they would otherwise pile up, each as big
    as the cache).
    """
    try:
        remove_stale_temp_files(path)
        atomic_write_text(path, encode_cache(cache))
    except OSError as exc:
        raise CacheWriteError(f"cache {path}: cannot be written: {exc.strerror or exc}") from exc
