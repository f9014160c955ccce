"""The HubSpot CRM v3 endpoints, independent of HTTP: each takes parsed input and returns a `Reply`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from affiliate_sync.simulator.config import SimulatorConfig
from affiliate_sync.simulator.errors import ApiError, not_found, validation_error
from affiliate_sync.simulator.faults import Fault
from affiliate_sync.simulator.schema import PropertyDef
from affiliate_sync.simulator.search import SearchEngine, execute, parse_query
from affiliate_sync.simulator.store import PropertyError, Store
from affiliate_sync.simulator.values import iso_now

_NOT_FOUND_MESSAGE = "Could not get some CRM objects, they may be deleted or not exist. Check that ids are valid."


@dataclass
class Reply:
    """An HTTP answer: status, JSON body and extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class CrmApi:
    """Objects, batch and properties endpoints over a `Store`."""

    def __init__(self, store: Store, config: SimulatorConfig) -> None:
        self.store = store
        self.config = config
        self.engine = SearchEngine()

    # --- search and list -------------------------------------------------------------

    def search(self, object_type: str, body: Any, fault: Fault | None = None) -> Reply:
        """`POST /crm/v3/objects/{type}/search`."""
        query = parse_query(body, self.config.search)
        with self.store.lock:
            table = self.store.table(object_type)
            result = execute(self.engine, table, self.store.version, query)
        if fault is not None and fault.kind == "empty_page":
            # HubSpot sometimes answers a page with no results but a next token; the token
            # leads back to the same offset, so a client that follows it loses nothing.
            result["results"] = []
            result["paging"] = {"next": {"after": str(query.after)}}
        return Reply(200, result)

    def list_objects(self, object_type: str, params: dict[str, list[str]]) -> Reply:
        """`GET /crm/v3/objects/{type}`: cursor is the next record id, limit at most 100."""
        limit = _int_param(params, "limit", 10)
        if not 1 <= limit <= self.config.list_max_limit:
            raise validation_error(f"limit must be between 1 and {self.config.list_max_limit}; got {limit}.")
        after = _int_param(params, "after", 0)
        names = _properties_param(params)
        with self.store.lock:
            table = self.store.table(object_type)
            ids = table.id_range(after, None)
            page = ids[:limit]
            results = [table.records[i].to_api(names) for i in page]
            body: dict[str, Any] = {"results": results}
            if len(ids) > limit:
                next_id = str(ids[limit])
                body["paging"] = {
                    "next": {"after": next_id, "link": f"/crm/v3/objects/{object_type}?after={next_id}"}
                }
        return Reply(200, body)

    # --- single objects ----------------------------------------------------------------

    def get_object(self, object_type: str, object_id: str, params: dict[str, list[str]]) -> Reply:
        """`GET /crm/v3/objects/{type}/{id}` (optionally `?idProperty=`)."""
        id_property = self._id_property(object_type, _first(params, "idProperty"))
        with self.store.lock:
            record = self.store.find(object_type, id_property, object_id)
            if record is None:
                raise not_found(object_id)
            return Reply(200, record.to_api(_properties_param(params)))

    def patch_object(self, object_type: str, object_id: str, params: dict[str, list[str]], body: Any) -> Reply:
        """`PATCH /crm/v3/objects/{type}/{id}` (optionally `?idProperty=`)."""
        properties = _properties_body(body)
        id_property = self._id_property(object_type, _first(params, "idProperty"))
        with self.store.lock:
            record = self.store.find(object_type, id_property, object_id)
            if record is None:
                raise not_found(object_id)
            values, errors = self.store.validate(object_type, properties, self.config.strict_properties)
            if errors:
                raise _property_errors_exception(errors)
            self.store.update(object_type, record, values)
            return Reply(200, record.to_api(list(values)))

    # --- batch -------------------------------------------------------------------------

    def batch_read(self, object_type: str, body: Any, fault: Fault | None = None) -> Reply:
        """`POST /crm/v3/objects/{type}/batch/read`: missing ids → 207 with one OBJECT_NOT_FOUND error."""
        inputs = self._inputs(body)
        id_property = self._id_property(object_type, body.get("idProperty"))
        names = body.get("properties") or None
        if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
            raise validation_error("properties must be a list of property names.")
        started = iso_now()
        failed = _failing_inputs(fault, [str(item.get("id", "")) for item in inputs])
        results: list[dict[str, Any]] = []
        missing: list[str] = []
        injected: list[str] = []
        with self.store.lock:
            for item in inputs:
                key = str(item.get("id", ""))
                if key in failed:
                    injected.append(key)
                    continue
                record = self.store.find(object_type, id_property, key)
                if record is None:
                    missing.append(key)
                else:
                    results.append(record.to_api(names))
        errors = []
        if missing:
            errors.append(_batch_error("OBJECT_NOT_FOUND", _NOT_FOUND_MESSAGE, missing))
        if injected:
            errors.append(_batch_error(fault.error_category if fault else "OBJECT_NOT_FOUND", _NOT_FOUND_MESSAGE, injected))
        return _batch_reply(results, errors, started)

    def batch_update(self, object_type: str, body: Any, fault: Fault | None = None) -> Reply:
        """`POST /crm/v3/objects/{type}/batch/update`: per-input errors → 207, the rest applied."""
        inputs = self._inputs(body)
        default_id_property = body.get("idProperty")
        keys = [str(item.get("id", "")) for item in inputs]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise validation_error(f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique")
        for item in inputs:
            if not isinstance(item.get("properties"), dict):
                raise validation_error(f"Input {item.get('id')!r} has no properties object.")
        failed = _failing_inputs(fault, keys)
        started = iso_now()
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        missing: list[str] = []
        with self.store.lock:
            for item in inputs:
                key = str(item.get("id", ""))
                properties = item["properties"]
                if key in failed:
                    errors.append(_batch_error(fault.error_category if fault else "OBJECT_NOT_FOUND", _NOT_FOUND_MESSAGE, [key]))
                    continue
                id_property = self._id_property(object_type, item.get("idProperty") or default_id_property)
                record = self.store.find(object_type, id_property, key)
                if record is None:
                    missing.append(key)
                    continue
                values, problems = self.store.validate(object_type, properties, self.config.strict_properties)
                if problems:
                    errors.append(_invalid_input_error(key, problems))
                    continue
                self.store.update(object_type, record, values)
                results.append(record.to_api(list(values)))
        if missing:
            errors.insert(0, _batch_error("OBJECT_NOT_FOUND", _NOT_FOUND_MESSAGE, missing))
        return _batch_reply(results, errors, started)

    # --- properties --------------------------------------------------------------------

    def get_property(self, object_type: str, name: str) -> Reply:
        """`GET /crm/v3/properties/{type}/{name}`."""
        definition = self.store.property(object_type, name)
        if definition is None:
            raise _property_not_found(object_type, name)
        return Reply(200, definition.to_api())

    def patch_property(self, object_type: str, name: str, body: Any) -> Reply:
        """`PATCH /crm/v3/properties/{type}/{name}`: `options`, when given, replace the old ones whole."""
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON: expected an object.")
        with self.store.lock:
            current = self.store.property(object_type, name)
            if current is None:
                raise _property_not_found(object_type, name)
            updated = PropertyDef(
                name=current.name,
                type=body.get("type", current.type),
                options=_parse_options(body["options"]) if "options" in body else list(current.options),
                unique=current.unique,
                label=body.get("label", current.label),
                group_name=body.get("groupName", current.group_name),
                created_at=current.created_at,
                updated_at=iso_now(),
            )
            if updated.type not in ("string", "number", "date", "datetime", "enumeration", "bool"):
                raise validation_error(f"Unknown property type {updated.type!r}.")
            self.store.set_property(object_type, updated)
        return Reply(200, updated.to_api())

    # --- helpers -----------------------------------------------------------------------

    def _inputs(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            raise validation_error("Invalid input JSON: expected an object with an inputs list.")
        inputs = body["inputs"]
        if len(inputs) > self.config.batch_max_inputs:
            raise validation_error(
                f"Too many inputs: {len(inputs)}. Batch requests take at most {self.config.batch_max_inputs}.",
                context={"inputs": [str(len(inputs))]},
            )
        if not all(isinstance(item, dict) and "id" in item for item in inputs):
            raise validation_error("Every input needs an id.")
        return inputs

    def _id_property(self, object_type: str, name: Any) -> str | None:
        """A valid `idProperty` (a unique property), or None for record ids."""
        if name in (None, "", "hs_object_id"):
            return None
        definition = self.store.property(object_type, str(name))
        if definition is None or not definition.unique:
            raise validation_error(f"{name} is not a unique property of {object_type}; it cannot be an idProperty.")
        return str(name)


def _batch_reply(results: list[dict[str, Any]], errors: list[dict[str, Any]], started: str) -> Reply:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso_now()}
    if errors:
        body["numErrors"] = sum(len(error["context"]["ids"]) for error in errors)
        body["errors"] = errors
        return Reply(207, body)
    return Reply(200, body)


def _batch_error(category: str, message: str, ids: list[str]) -> dict[str, Any]:
    return {"status": "error", "category": category, "message": message, "context": {"ids": ids}}


def _invalid_input_error(key: str, problems: list[PropertyError]) -> dict[str, Any]:
    """A per-input validation error; `code` is the first problem's (e.g. INVALID_OPTION)."""
    return {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "code": problems[0].code,
        "message": "Property values were not valid: " + "; ".join(p.message for p in problems),
        "context": {"ids": [key], "propertyName": [p.name for p in problems]},
        "errors": [_problem_json(p) for p in problems],
    }


def _problem_json(problem: PropertyError) -> dict[str, Any]:
    context: dict[str, list[str]] = {"propertyName": [problem.name]}
    if problem.allowed:
        context["allowedOptions"] = list(problem.allowed)
    return {"message": problem.message, "code": problem.code, "context": context}


def _property_errors_exception(problems: list[PropertyError]) -> ApiError:
    return validation_error(
        "Property values were not valid: " + "; ".join(p.message for p in problems),
        errors=[_problem_json(p) for p in problems],
    )


def _property_not_found(object_type: str, name: str) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} for object type {object_type}")


def _parse_options(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise validation_error("options must be a list.")
    parsed: list[dict[str, Any]] = []
    for order, option in enumerate(raw):
        if not isinstance(option, dict) or not option.get("value") or not option.get("label"):
            raise validation_error("Each option needs a label and a value.")
        parsed.append(
            {
                "label": str(option["label"]),
                "value": str(option["value"]),
                "displayOrder": option.get("displayOrder", order),
                "hidden": bool(option.get("hidden", False)),
                **({"description": option["description"]} if "description" in option else {}),
            }
        )
    values = [option["value"] for option in parsed]
    if len(set(values)) != len(values):
        raise validation_error("Option values must be unique.")
    return parsed


def _failing_inputs(fault: Fault | None, keys: list[str]) -> set[str]:
    if fault is None or fault.kind != "partial_batch":
        return set()
    chosen = {key for key in keys if key in fault.fail_ids}
    chosen.update(keys[: fault.fail_count])
    return chosen


def _properties_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise validation_error("Invalid input JSON: expected an object with a properties object.")
    return body["properties"]


def _first(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _int_param(params: dict[str, list[str]], name: str, default: int) -> int:
    raw = _first(params, name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise validation_error(f"{name} must be a non-negative integer; got {raw!r}.")
    return int(raw)


def _properties_param(params: dict[str, list[str]]) -> list[str] | None:
    names = [name for value in params.get("properties", []) for name in value.split(",") if name]
    return names or None

