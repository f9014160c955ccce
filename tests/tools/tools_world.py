"""The ops tools' test world: a small fixed partner programme (registry and HubSpot records),
helpers to run the real sync and to snapshot everything a dry run must leave alone.

A module of its own (not conftest) so test modules import it by a unique name."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from affiliate_sync.settings import DEFAULT_PARTNER_OBJECT_TYPE
from affiliate_sync.simulator.schema import options
from affiliate_sync.simulator.server import SimulatorServer

# Not shaped like a HubSpot token, so a leak would be this exact string in some output.
TOKEN = "tools-sim-secret-4f1e9a77c2"
PARTNER_TYPE = DEFAULT_PARTNER_OBJECT_TYPE

ACTIVE = "AP-20240101-ACT001"  # active starter: 2 leads, 3 won deals (one paused) + 1 lost
EMPTY = "AP-20240102-EMP002"  # active starter, nothing in HubSpot
PENDING = "AP-20240103-PEN003"  # pending_verification starter, 1 lead in HubSpot
INACTIVE_WON = "AP-20240104-INA004"  # inactive starter with a won deal (not a beginner)
INACTIVE_NEVER = "AP-20240105-INA005"  # inactive starter with only a lost deal (a beginner)
PRO = "AP-20240106-PRO006"  # inactive pro, untouched by backfill
HUBSPOT_ONLY = "AP-20240109-HSO009"  # a partner record and a lead in HubSpot, not in the registry
ACTIVE_RECORD_ID = "9001"
HUBSPOT_ONLY_RECORD_ID = "9009"


def iso_days_ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def registry_entries() -> list[dict[str, Any]]:
    """The registry, with fields the job does not own (they must survive every write)."""

    def entry(pid: str, name: str, status: str, level: str, record_id: str | None) -> dict[str, Any]:
        row: dict[str, Any] = {
            "partner_id": pid, "name": name, "email": f"{name.lower()}@partners.example", "status": status,
            "level": level, "password_hash": "$2b$12$abcdefghijklmnopqrstuv", "terms_accepted_at": "2024-01-01",
        }
        if record_id:
            row["hubspot_affiliate_record_id"] = record_id
        return row

    return [
        entry(ACTIVE, "Alice", "active", "starter", ACTIVE_RECORD_ID),
        entry(EMPTY, "Bob", "active", "starter", "9002"),
        entry(PENDING, "Carol", "pending_verification", "starter", None),
        entry(INACTIVE_WON, "Dan", "inactive", "starter", "9004"),
        entry(INACTIVE_NEVER, "Eve", "inactive", "starter", None),
        entry(PRO, "Frank", "inactive", "pro", "9006"),
    ]


def hubspot_objects() -> dict[str, list[dict[str, Any]]]:
    def contact(record_id: int, pid: str, email: str) -> dict[str, Any]:
        return {"id": str(record_id), "properties": {
            "email": email, "firstname": "Lead", "lastname": str(record_id), "affiliate_partner_id": pid,
            "affiliate_referral_date": "2026-01-05", "createdate": iso_days_ago(40)}}

    def deal(record_id: int, pid: str, stage: str, mrr: str | None, status: str | None, closed: str | None) -> dict[str, Any]:
        return {"id": str(record_id), "properties": {
            "dealname": f"Deal {record_id}", "affiliate_partner_id": pid, "dealstage": stage, "pipeline": "default",
            "affiliate_mrr": mrr, "affiliate_subscription_status": status, "closedate": closed,
            "createdate": iso_days_ago(60), "amount": mrr}}

    def record(record_id: str, pid: str, level: str, share: str) -> dict[str, Any]:
        return {"id": record_id, "properties": {
            "partner_id": pid, "name": pid, "email": f"{pid.lower()}@partners.example", "level": level,
            "mrr_share_percent": share, "status": "active", "registration_date": "2024-01-01"}}

    return {
        "contacts": [
            contact(101, ACTIVE, "lead101@customers.example"),
            contact(102, ACTIVE.lower(), "lead102@customers.example"),  # typed by hand in lower case
            contact(103, PENDING, "lead103@customers.example"),
            contact(104, HUBSPOT_ONLY, "lead104@customers.example"),
            {"id": "105", "properties": {"email": "nobody@customers.example", "createdate": iso_days_ago(3)}},
        ],
        "deals": [
            deal(201, ACTIVE, "closedwon", "89", "active", iso_days_ago(10)),
            deal(202, ACTIVE, "closedwon", "150.00", None, iso_days_ago(20)),
            deal(203, ACTIVE, "closedwon", "200", "paused", iso_days_ago(30)),
            deal(204, ACTIVE, "closedlost", "999", None, iso_days_ago(5)),
            deal(205, INACTIVE_WON, "closedwon", "49", "active", iso_days_ago(200)),
            deal(206, INACTIVE_NEVER, "closedlost", "49", None, iso_days_ago(15)),
        ],
        PARTNER_TYPE: [
            record(ACTIVE_RECORD_ID, ACTIVE, "starter", "20"),
            record("9002", EMPTY, "starter", "20"),
            record("9004", INACTIVE_WON, "starter", "20"),
            record("9006", PRO, "pro", "30"),
            record(HUBSPOT_ONLY_RECORD_ID, HUBSPOT_ONLY, "pro", "30"),
        ],
    }


@dataclass
class Programme:
    """The test's world: the simulator, the registry and cache paths, and helpers."""

    sim: SimulatorServer
    registry_path: Path
    cache_path: Path

    def add_records(self, object_type: str, records: list[dict[str, Any]]) -> None:
        self.sim.store.load({object_type: records}, replace=False)
        self.sim.app.api.engine.clear()

    def allow_beginner(self) -> None:
        """The `level` property with `beginner`, as after `hubspot add-level-option`."""
        definition = self.sim.store.property(PARTNER_TYPE, "level")
        assert definition is not None
        definition.options = options("beginner", "starter", "partner", "pro")

    def level_options(self) -> list[str]:
        definition = self.sim.store.property(PARTNER_TYPE, "level")
        assert definition is not None
        return definition.option_values

    def dump(self) -> dict[str, Any]:
        """The simulator's record state and the level property, read over its control API."""
        with httpx.Client(base_url=self.sim.url, timeout=10) as http:
            state = {t: http.get(f"/_simulator/records/{t}").json() for t in ("contacts", "deals", PARTNER_TYPE)}
            state["level_property"] = http.get(
                f"/crm/v3/properties/{PARTNER_TYPE}/level", headers={"Authorization": f"Bearer {TOKEN}"}
            ).json()
        return state

    def records(self, object_type: str = PARTNER_TYPE) -> dict[str, dict[str, Any]]:
        return {r["id"]: r["properties"] for r in self.dump()[object_type]["results"]}

    def registry(self) -> Any:
        return json.loads(self.registry_path.read_text(encoding="utf-8"))

    def write_registry(self, entries: Any) -> None:
        self.registry_path.write_text(json.dumps(entries, indent=2), encoding="utf-8")

    def cache(self) -> dict[str, Any]:
        return json.loads(self.cache_path.read_text(encoding="utf-8"))

    def write_cache(self, cache: dict[str, Any]) -> None:
        self.cache_path.write_text(json.dumps(cache, indent=2), encoding="utf-8")

    def files_snapshot(self) -> dict[str, str]:
        """Every file in the data directory (lock files included) by content hash."""
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.registry_path.parent.iterdir()) if p.is_file()
        }


def run_sync(programme: Programme) -> None:
    from flows.sync import affiliate_hubspot_sync

    programme.allow_beginner()
    state = affiliate_hubspot_sync(force=True, return_state=True)
    assert state.is_completed(), state.message
    assert programme.cache_path.exists()


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)
