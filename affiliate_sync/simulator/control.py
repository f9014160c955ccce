"""The `/_simulator/...` control endpoints: faults, reset, stats, data, state dumps, config.

They need no token: the server only listens on 127.0.0.1, and tests running the flow in
another process (a Prefect worker) drive the simulator through them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from affiliate_sync.simulator.api import Reply
from affiliate_sync.simulator.config import SearchLimits
from affiliate_sync.simulator.errors import ApiError, validation_error
from affiliate_sync.simulator.faults import Fault
from affiliate_sync.simulator.generator import Dataset, generate

if TYPE_CHECKING:
    from affiliate_sync.simulator.app import SimulatorApp


def handle_control(app: SimulatorApp, method: str, path: str, params: dict[str, list[str]], body: Any) -> Reply:
    """Answer one control request (`path` is what follows `/_simulator`)."""
    parts = [part for part in path.split("/") if part]
    head = parts[0] if parts else ""
    if head == "health" and method == "GET":
        return Reply(200, {"ok": True})
    if head == "reset" and method == "POST":
        return _reset(app, body or {})
    if head == "faults":
        return _faults(app, method, body)
    if head == "stats":
        if method == "DELETE":
            app.stats.reset()
        return Reply(200, app.stats.snapshot())
    if head == "data" and method == "POST":
        return _data(app, body or {})
    if head == "records" and method == "GET" and len(parts) in (2, 3):
        return _records(app, parts[1:])
    if head == "config":
        if method == "POST":
            _configure(app, body or {})
        return Reply(200, app.config.public())
    raise ApiError(404, "OBJECT_NOT_FOUND", f"No control endpoint {method} /_simulator{path}")


def _reset(app: SimulatorApp, body: dict[str, Any]) -> Reply:
    flags = {key: bool(body.get(key, True)) for key in ("data", "faults", "stats", "limits", "config")}
    app.reset(**flags)
    return Reply(200, {"reset": flags, "counts": _counts(app)})


def _faults(app: SimulatorApp, method: str, body: Any) -> Reply:
    if method == "DELETE":
        app.faults.clear()
    elif method == "POST":
        items = body.get("faults") if isinstance(body, dict) and "faults" in body else body
        items = items if isinstance(items, list) else [items]
        try:
            specs = [Fault.model_validate(item) for item in items]
        except ValidationError as exc:
            raise validation_error(f"Invalid fault: {exc.errors(include_url=False)}") from None
        added = [app.faults.add(spec) for spec in specs]
        return Reply(200, {"added": [armed.id for armed in added], "faults": [f.to_json() for f in app.faults.active()]})
    elif method != "GET":
        raise ApiError(405, "VALIDATION_ERROR", f"{method} is not supported on /_simulator/faults")
    return Reply(200, {"faults": [armed.to_json() for armed in app.faults.active()]})


def _data(app: SimulatorApp, body: dict[str, Any]) -> Reply:
    """Load records: `{"generate": {...}}`, `{"objects": {type: [...]}}` or a dataset's JSON."""
    replace = bool(body.get("replace", True))
    if replace and body.get("clear_all", False):
        app.store.reset()
    response: dict[str, Any] = {}
    if "generate" in body:
        options = dict(body["generate"] or {})
        options.setdefault("partner_object_type", app.config.partner_object_type)
        try:
            dataset = generate(**options)
        except TypeError as exc:
            raise validation_error(f"Invalid generator options: {exc}") from None
        objects = dataset.objects()
        response.update(
            registry=dataset.registry,
            big_partner_id=dataset.big_partner_id,
            summary=dataset.summary(),
        )
    elif "objects" in body:
        objects = body["objects"]
        if not isinstance(objects, dict):
            raise validation_error("objects must map object types to record lists.")
    elif any(key in body for key in ("contacts", "deals", "partner_records")):
        objects = Dataset.from_dict(body).objects()
    else:
        raise validation_error("Send generate, objects, or a dataset (partner_records, contacts, deals).")
    try:
        app.store.load(objects, replace=replace)
    except (ValueError, TypeError, AttributeError) as exc:
        raise validation_error(f"Invalid records: {exc}") from None
    app.api.engine.clear()
    response["counts"] = _counts(app)
    return Reply(200, response)


def _records(app: SimulatorApp, parts: list[str]) -> Reply:
    object_type = app.store.canonical_type(parts[0])
    if len(parts) == 2:
        record = app.store.get(object_type, parts[1])
        if record is None:
            raise ApiError(404, "OBJECT_NOT_FOUND", f"No {object_type} record {parts[1]}")
        return Reply(200, record.to_dump())
    results = app.store.dump(object_type)
    return Reply(200, {"type": object_type, "total": len(results), "results": results})


def _configure(app: SimulatorApp, body: dict[str, Any]) -> None:
    """Apply a partial config: token, missing_scopes, rate_limits, search, strict_properties, ..."""
    known = {"token", "missing_scopes", "rate_limits", "search", "strict_properties", "list_max_limit", "batch_max_inputs"}
    unknown = set(body) - known
    if unknown:
        raise validation_error(f"Unknown config keys: {sorted(unknown)}")
    config = app.config
    try:
        if "token" in body:
            config.token = str(body["token"])
        if "missing_scopes" in body:
            config.missing_scopes = set(body["missing_scopes"] or [])
        if "rate_limits" in body:
            config.rate_limits = config.rate_limits.merged(dict(body["rate_limits"]))
            app.limiter.config = config.rate_limits
        if "search" in body:
            config.search = SearchLimits(**{**asdict(config.search), **dict(body["search"])})
        for key in ("strict_properties",):
            if key in body:
                setattr(config, key, bool(body[key]))
        for key in ("list_max_limit", "batch_max_inputs"):
            if key in body:
                setattr(config, key, int(body[key]))
    except (TypeError, ValueError) as exc:
        raise validation_error(f"Invalid config: {exc}") from None


def _counts(app: SimulatorApp) -> dict[str, int]:
    return {object_type: app.store.count(object_type) for object_type in app.store.types()}
