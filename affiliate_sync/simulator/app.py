"""The request pipeline, independent of HTTP: route, authenticate, check scopes, inject faults,
rate-limit, dispatch. The transport in `server.py` only reads bytes in and writes an `Outcome` out.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from affiliate_sync.simulator.api import CrmApi, Reply
from affiliate_sync.simulator.config import SimulatorConfig
from affiliate_sync.simulator.errors import (
    ApiError,
    auth_body,
    correlation_id,
    missing_scopes_body,
    rate_limit_body,
    server_error_body,
    validation_error,
)
from affiliate_sync.simulator.faults import Fault, FaultBook
from affiliate_sync.simulator.generator import Dataset, load_into
from affiliate_sync.simulator.ratelimit import RateLimiter
from affiliate_sync.simulator.stats import Stats
from affiliate_sync.simulator.store import Store

log = logging.getLogger("affiliate_sync.simulator")

CONTROL_PREFIX = "/_simulator"
JSON_TYPE = "application/json;charset=utf-8"

Params = dict[str, list[str]]
Handler = Callable[[str, Params, Any, Fault | None], Reply]


@dataclass
class Outcome:
    """What the transport sends: a reply, possibly broken on purpose."""

    reply: Reply
    raw: bytes | None = None
    content_type: str = JSON_TYPE
    drop_after: int | None = None
    malformed: bool = False

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.reply.body is None:
            return b""
        return json.dumps(self.reply.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Route:
    """A CRM API route: method, path pattern, endpoint kind and whether it writes."""

    method: str
    pattern: re.Pattern[str]
    kind: str
    name: str
    writes: bool = False
    schema: bool = False


_ROUTES: tuple[Route, ...] = (
    Route("POST", re.compile(r"^/crm/v3/objects/(?P<type>[^/]+)/search$"), "search", "search"),
    Route("POST", re.compile(r"^/crm/v3/objects/(?P<type>[^/]+)/batch/read$"), "batch_read", "batch_read"),
    Route("POST", re.compile(r"^/crm/v3/objects/(?P<type>[^/]+)/batch/update$"), "batch_update", "batch_update", True),
    Route("GET", re.compile(r"^/crm/v3/objects/(?P<type>[^/]+)$"), "other", "list"),
    Route("GET", re.compile(r"^/crm/v3/objects/(?P<type>[^/]+)/(?P<id>[^/]+)$"), "other", "get"),
    Route("PATCH", re.compile(r"^/crm/v3/objects/(?P<type>[^/]+)/(?P<id>[^/]+)$"), "other", "patch", True),
    Route("GET", re.compile(r"^/crm/v3/properties/(?P<type>[^/]+)/(?P<id>[^/]+)$"), "other", "get_property", False, True),
    Route("PATCH", re.compile(r"^/crm/v3/properties/(?P<type>[^/]+)/(?P<id>[^/]+)$"), "other", "patch_property", True, True),
)


class SimulatorApp:
    """Store, config, faults, stats and limiter behind one `handle()` call."""

    def __init__(self, config: SimulatorConfig, dataset: Dataset | None = None) -> None:
        self.config = config
        self._initial_config = copy.deepcopy(config)
        self._initial_dataset = dataset
        self.store = Store(config.partner_object_type)
        self.faults = FaultBook()
        self.stats = Stats()
        self.limiter = RateLimiter(config.rate_limits)
        self.api = CrmApi(self.store, config)
        # Set on shutdown so injected delays end at once instead of holding a thread.
        self.stopping = threading.Event()
        if dataset is not None:
            load_into(self.store, dataset)

    # --- state -------------------------------------------------------------------------

    def reset(self, *, data: bool = True, faults: bool = True, stats: bool = True, limits: bool = True, config: bool = True) -> None:
        """Back to the state right after start: initial data and config, no faults, zero counters."""
        if config:
            self.apply_config(copy.deepcopy(self._initial_config))
        if data:
            self.store.reset()
            self.api.engine.clear()
            if self._initial_dataset is not None:
                load_into(self.store, self._initial_dataset)
        if faults:
            self.faults.clear()
        if stats:
            self.stats.reset()
        if limits:
            self.limiter.reset()

    def apply_config(self, config: SimulatorConfig) -> None:
        """Swap in new settings while keeping the objects that share them."""
        self.config.token = config.token
        self.config.missing_scopes = set(config.missing_scopes)
        self.config.rate_limits = config.rate_limits
        self.config.search = config.search
        self.config.list_max_limit = config.list_max_limit
        self.config.batch_max_inputs = config.batch_max_inputs
        self.config.strict_properties = config.strict_properties
        self.limiter.config = config.rate_limits

    # --- requests ----------------------------------------------------------------------

    def handle(self, method: str, path: str, params: Params, headers: dict[str, str], body: bytes) -> Outcome:
        """Answer one HTTP request."""
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            from affiliate_sync.simulator.control import handle_control

            try:
                return Outcome(handle_control(self, method, path[len(CONTROL_PREFIX):], params, _json(body)))
            except ApiError as exc:
                return Outcome(Reply(exc.status, exc.body))
        route, match = _route(method, path)
        if route is None or match is None:
            return Outcome(Reply(404, _route_not_found(method, path)))
        object_type = self.store.canonical_type(match["type"])
        self.stats.request(route.kind, object_type)
        outcome = self._crm(route, match, object_type, params, headers, body)
        policy = outcome.reply.body.get("policyName") if isinstance(outcome.reply.body, dict) else None
        self.stats.response(outcome.reply.status, policy)
        return outcome

    def _crm(self, route: Route, match: re.Match[str], object_type: str, params: Params, headers: dict[str, str], body: bytes) -> Outcome:
        token = _bearer(headers)
        if token is None or token != self.config.token:
            return Outcome(Reply(401, auth_body()))
        scope = required_scope(route, object_type)
        if scope in self.config.missing_scopes:
            return Outcome(Reply(403, missing_scopes_body([scope])))
        fault = self.faults.take(route.kind, object_type)
        if fault is not None:
            self.stats.fault(fault.kind)
            if fault.kind == "status":
                return self._status_fault(fault, route, scope, token)
            if fault.kind == "delay":
                self.stopping.wait(fault.delay_seconds)
            if fault.kind == "reassign":
                moved = self.store.reassign(
                    fault.reassign_object_type or object_type,
                    fault.reassign_property,
                    fault.reassign_from or "",
                    fault.reassign_to or "",
                    fault.reassign_limit,
                )
                log.info("reassigned %d records from %s to %s", len(moved), fault.reassign_from, fault.reassign_to)
        decision = self.limiter.check_search(token) if route.kind == "search" else self.limiter.check_burst(token)
        if not decision.allowed:
            return Outcome(Reply(429, rate_limit_body(decision.policy or "SECONDLY"), decision.headers))
        try:
            reply = self._dispatch(route, match, object_type, params, _json(body) if body else {}, fault)
        except ApiError as exc:
            reply = Reply(exc.status, exc.body)
        except Exception:  # noqa: BLE001 - a simulator bug must surface as a 500, not a hung client
            log.exception("simulator handler failed for %s %s", route.method, match.string)
            reply = Reply(500, server_error_body(500))
        reply.headers.update(decision.headers)
        outcome = Outcome(reply)
        if fault is not None and fault.kind == "drop":
            payload = outcome.payload()
            outcome.raw = payload
            outcome.drop_after = fault.drop_after_bytes if fault.drop_after_bytes is not None else len(payload) // 2
        if fault is not None and fault.kind == "malformed":
            payload = outcome.payload()
            # A complete HTTP message whose JSON is cut short: the body parses on no client.
            outcome.raw = payload[: max(len(payload) // 2, 1)].rstrip(b"}]") + b',"'
            outcome.malformed = True
        return outcome

    def _dispatch(self, route: Route, match: re.Match[str], object_type: str, params: Params, body: Any, fault: Fault | None) -> Reply:
        api = self.api
        if route.name == "search":
            return api.search(object_type, body, fault)
        if route.name == "batch_read":
            return api.batch_read(object_type, body, fault)
        if route.name == "batch_update":
            return api.batch_update(object_type, body, fault)
        if route.name == "list":
            return api.list_objects(object_type, params)
        if route.name == "get":
            return api.get_object(object_type, match["id"], params)
        if route.name == "patch":
            return api.patch_object(object_type, match["id"], params, body)
        if route.name == "get_property":
            return api.get_property(object_type, match["id"])
        return api.patch_property(object_type, match["id"], body)

    def _status_fault(self, fault: Fault, route: Route, scope: str, token: str) -> Outcome:
        status = fault.status or 500
        headers: dict[str, str] = {}
        body: dict[str, Any]
        if status == 429:
            policy = fault.policy or ("SECONDLY" if route.kind == "search" else "TEN_SECONDLY_ROLLING")
            body = rate_limit_body(policy)
            if policy != "SECONDLY":
                headers.update(self.limiter.burst_headers(token))
        elif status == 401:
            body = auth_body()
        elif status == 403:
            body = missing_scopes_body([fault.missing_scope or scope])
        elif status >= 500:
            body = server_error_body(status)
        else:
            body = {"status": "error", "message": f"Injected HTTP {status}", "correlationId": correlation_id(), "category": "VALIDATION_ERROR"}
        if fault.retry_after is not None:
            headers["Retry-After"] = _retry_after(fault.retry_after)
        outcome = Outcome(Reply(status, body, headers))
        if fault.body is not None:
            outcome.raw = fault.body.encode("utf-8")
            outcome.content_type = fault.content_type
        return outcome


def required_scope(route: Route, object_type: str) -> str:
    """The granular scope HubSpot checks for a route on an object type."""
    family = object_type if object_type in ("contacts", "deals") else "custom"
    access = "write" if route.writes else "read"
    return f"crm.schemas.{family}.{access}" if route.schema else f"crm.objects.{family}.{access}"


def _route(method: str, path: str) -> tuple[Route | None, re.Match[str] | None]:
    for route in _ROUTES:
        if route.method != method:
            continue
        match = route.pattern.match(path)
        if match is not None:
            return route, match
    return None, None


def _route_not_found(method: str, path: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": f"No route for {method} {path} in the HubSpot simulator",
        "correlationId": correlation_id(),
        "category": "OBJECT_NOT_FOUND",
    }


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise validation_error(f"Invalid input JSON on line {getattr(exc, 'lineno', 1)}: {exc}") from None


def _retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
