"""Fault injection: what goes wrong, for which requests, how many times.

A fault matches requests by endpoint kind and object type. It first lets `skip` matching
requests through, then affects the next `count`. Each request gets at most one fault (the
first armed one in insertion order), but every matching fault counts it towards its skip.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal["status", "delay", "drop", "malformed", "empty_page", "partial_batch", "reassign"]
EndpointKind = Literal["search", "batch_read", "batch_update", "other"]
ENDPOINT_KINDS: tuple[str, ...] = ("search", "batch_read", "batch_update", "other")


class Fault(BaseModel):
    """One fault specification (the JSON body of `POST /_simulator/faults`)."""

    model_config = ConfigDict(extra="forbid")

    kind: FaultKind
    endpoint: EndpointKind | Literal["any"] = "any"
    object_type: str | None = None
    count: int = Field(1, ge=1)
    skip: int = Field(0, ge=0)
    # kind=status: the code; 429 takes `policy` and `retry_after`, 403 takes `missing_scope`.
    status: int | None = Field(None, ge=400, le=599)
    policy: Literal["SECONDLY", "TEN_SECONDLY_ROLLING", "DAILY"] | None = None
    retry_after: float | None = Field(None, ge=0)
    missing_scope: str | None = None
    body: str | None = None
    content_type: str = "application/json;charset=utf-8"
    # kind=delay: seconds before the (otherwise normal) answer.
    delay_seconds: float = Field(0.0, ge=0, le=600)
    # kind=drop: bytes of the body sent before the socket closes (default: half of it).
    drop_after_bytes: int | None = Field(None, ge=0)
    # kind=partial_batch: which inputs fail, by id (or idProperty value) or the first N.
    fail_ids: list[str] = Field(default_factory=list)
    fail_count: int = Field(0, ge=0)
    error_category: str = "OBJECT_NOT_FOUND"
    # kind=reassign: move records from one partner to another before this request runs.
    reassign_from: str | None = None
    reassign_to: str | None = None
    reassign_property: str = "affiliate_partner_id"
    reassign_limit: int | None = Field(None, ge=1)
    reassign_object_type: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Fault:
        if self.kind == "status" and self.status is None:
            raise ValueError("a status fault needs `status`")
        if self.kind == "partial_batch" and not self.fail_ids and not self.fail_count:
            raise ValueError("a partial_batch fault needs `fail_ids` or `fail_count`")
        if self.kind == "reassign" and (self.reassign_from is None or self.reassign_to is None):
            raise ValueError("a reassign fault needs `reassign_from` and `reassign_to`")
        return self

    def matches(self, endpoint: str, object_type: str) -> bool:
        if self.endpoint != "any" and self.endpoint != endpoint:
            return False
        return self.object_type is None or self.object_type == object_type


@dataclass
class ArmedFault:
    """A fault in the book with its remaining skip and count."""

    id: int
    spec: Fault
    skip_left: int
    remaining: int
    triggered: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "skip_left": self.skip_left,
            "remaining": self.remaining,
            "triggered": self.triggered,
            **self.spec.model_dump(exclude_defaults=True),
        }


class FaultBook:
    """The active faults; thread-safe, consulted once per CRM request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[ArmedFault] = []
        self._ids = itertools.count(1)

    def add(self, fault: Fault | dict[str, Any] | None = None, **fields: Any) -> ArmedFault:
        """Arm a fault given as a `Fault`, a dict, or keyword fields."""
        spec = fault if isinstance(fault, Fault) else Fault.model_validate({**(fault or {}), **fields})
        armed = ArmedFault(next(self._ids), spec, spec.skip, spec.count)
        with self._lock:
            self._faults.append(armed)
        return armed

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[ArmedFault]:
        with self._lock:
            return list(self._faults)

    def take(self, endpoint: str, object_type: str) -> Fault | None:
        """The fault this request gets, if any; updates every matching fault's counters."""
        chosen: ArmedFault | None = None
        with self._lock:
            for armed in self._faults:
                if not armed.spec.matches(endpoint, object_type):
                    continue
                if armed.skip_left > 0:
                    armed.skip_left -= 1
                    continue
                if chosen is None and armed.remaining > 0:
                    chosen = armed
                    armed.remaining -= 1
                    armed.triggered += 1
            self._faults = [armed for armed in self._faults if armed.remaining > 0]
        return None if chosen is None else chosen.spec
