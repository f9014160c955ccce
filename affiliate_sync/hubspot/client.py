"""HubSpotClient: the one place the project talks to HubSpot's CRM API (sync httpx).

Layers, each written once:

* `_request` is the only request loop: pace (pacing.py), send with a per-attempt deadline,
  classify the outcome, retry or raise (retry.py), count (stats.py).
* `search_all` is the only pager: follows `paging.next.after`, slices by `hs_object_id`
  before the 10,000-result cap, dedupes by id, refuses to loop forever.
* `_batch` is the only chunker for the ≤100-input batch endpoints.

Worst-case time of one logical request (all attempts, waits and pacing), returned by
`worst_case_seconds()`:

    (max_retries + 1) * (4 * timeout + pacing_bound) + max_retries * backoff_cap

where 4 * timeout bounds one attempt (httpx caps each of pool wait, connect, write and the
wait for response headers at `timeout`; a body still trickling in when `timeout` has
passed since the attempt began is abandoned, at most one read later) and pacing_bound is
two windows of the slower limiter (queueing behind earlier calls plus a header-driven
hold, each at most one window: 2 * burst_interval * 1.05). With the defaults (6 retries,
30 s timeout, 30 s cap, 10 s burst interval) that is 7 * (120 + 21) + 180 = 1167 s; the
usual "HubSpot is down" case (fast 5xx or refused connections) takes under
0.5 + 1 + 2 + 4 + 8 + 16 = 31.5 s of backoff before `HubSpotUnavailableError`.
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import httpx

from affiliate_sync.hubspot import search as s
from affiliate_sync.hubspot.errors import (
    HubSpotAuthError,
    HubSpotError,
    HubSpotRateLimitedError,
    HubSpotRequestError,
    HubSpotUnavailableError,
)
from affiliate_sync.hubspot.pacing import Clock, SlidingWindowLimiter, Sleep
from affiliate_sync.hubspot.redact import redact
from affiliate_sync.hubspot.retry import Failure, FailureKind, RetryPolicy, parse_retry_after
from affiliate_sync.hubspot.stats import ClientStats
from affiliate_sync.settings import LOG_PREFIX, PARTNER_ID_PROPERTY

if TYPE_CHECKING:
    from affiliate_sync.settings import Settings

logger = logging.getLogger("affiliate_sync.hubspot")

Policy = Literal["search", "burst"]
JsonDict = dict[str, Any]

BATCH_LIMIT = 100
# Consecutive search pages that bring no new record while still announcing `paging.next`:
# HubSpot may hand out an odd empty page, but more than this is a loop, not data.
MAX_STALLED_PAGES = 5
# Hard ceiling on pages for one search_all (200 * 100,000 = 20 M records).
MAX_PAGES = 100_000
# Safety margins on our limiter windows (see pacing.py): search is the tight one.
SEARCH_SAFETY_MARGIN = 0.10
BURST_SAFETY_MARGIN = 0.05
# One attempt may last this many `timeout`s at most (see module docstring).
ATTEMPT_TIMEOUT_FACTOR = 4
_SCOPE_KEYS = ("requiredGranularScopes", "requiredScopes", "missingScopes", "requiredScope", "missingScope")


@dataclass(frozen=True)
class BatchError:
    """One per-input error of a 207 answer: which ids failed and why."""

    ids: tuple[str, ...]
    message: str
    category: str | None = None
    status: str | None = None
    raw: JsonDict = field(default_factory=dict, compare=False, repr=False)


@dataclass
class BatchResult:
    """Merged answer of every chunk: records that worked and per-input errors (207)."""

    results: list[JsonDict] = field(default_factory=list)
    errors: list[BatchError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def failed_ids(self) -> list[str]:
        return [record_id for error in self.errors for record_id in error.ids]


@dataclass(frozen=True)
class _Response:
    status: int
    headers: httpx.Headers
    body: Any


class HubSpotClient:
    """Synchronous HubSpot CRM client with pacing, bounded retries and redaction.

    `sleep` and `clock` are injectable so tests can observe waits; `transport` lets tests
    swap the network layer (the project's tests use the HTTP simulator instead).
    """

    def __init__(
        self,
        token: str,
        base_url: str = "https://api.hubapi.com",
        *,
        search_per_second: float = 5.0,
        burst_limit: int = 190,
        burst_interval: float = 10.0,
        max_retries: int = 6,
        timeout: float = 30.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        random_fraction: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        token = (token or "").strip()
        if not token:
            raise ValueError("HubSpotClient needs a token (HUBSPOT_API_TOKEN)")
        if search_per_second <= 0 or burst_limit < 1 or burst_interval <= 0 or timeout <= 0:
            raise ValueError("rate limits and timeout must be positive")
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self.stats = ClientStats()
        self.retry_policy = RetryPolicy(
            max_retries=max_retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            burst_interval=burst_interval,
            random_fraction=random_fraction,
        )
        self._limiters: dict[Policy, SlidingWindowLimiter] = {
            "search": _search_limiter(search_per_second, clock=clock, sleep=sleep),
            "burst": SlidingWindowLimiter(
                "burst", burst_limit, burst_interval, safety_margin=BURST_SAFETY_MARGIN, clock=clock, sleep=sleep
            ),
        }
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "User-Agent": "affiliate-sync",
            },
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> HubSpotClient:
        """A client configured from `Settings` (token required; `ConfigError` if missing)."""
        options: dict[str, Any] = {
            "search_per_second": settings.hubspot_search_requests_per_second,
            "burst_limit": settings.hubspot_burst_limit,
            "burst_interval": settings.hubspot_burst_interval_seconds,
            "max_retries": settings.hubspot_max_retries,
            "timeout": settings.hubspot_timeout_seconds,
        }
        options.update(overrides)
        return cls(settings.require_token(), settings.hubspot_base_url, **options)

    # ----------------------------------------------------------------- lifecycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubSpotClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HubSpotClient(base_url={self.base_url!r}, token='***')"

    def worst_case_seconds(self) -> float:
        """Upper bound on the wall time of one logical request (see module docstring)."""
        attempts = self.retry_policy.max_retries + 1
        pacing_bound = 2 * max(limiter.window for limiter in self._limiters.values())
        per_attempt = ATTEMPT_TIMEOUT_FACTOR * self.timeout + pacing_bound
        return attempts * per_attempt + self.retry_policy.worst_case_wait_seconds()

    def reset_pacing(self) -> None:
        """Forget past request times (tests; or after a long idle gap)."""
        for limiter in self._limiters.values():
            limiter.reset()

    # ----------------------------------------------------------------- search

    def search_all(
        self,
        object_type: str,
        *,
        filter_groups: Sequence[JsonDict] | None = None,
        properties: Sequence[str],
        sort_property: str = s.OBJECT_ID_PROPERTY,
    ) -> Iterator[JsonDict]:
        """Every record matching `filter_groups`, as HubSpot returns it ({id, properties, ...}).

        Pages of 200 continue until `paging.next` is absent (short or empty pages are not the
        end). Sorted by `hs_object_id` (the default), each next page is asked for as
        `hs_object_id GT <last id seen>` (keyset), which never skips a record when others
        leave the result set mid-scan and never meets HubSpot's 10,000-result cap; other
        sorts follow `paging.next.after`. Records are deduped by id either way.
        """
        groups = s.normalise_filter_groups(filter_groups)
        keyset = sort_property == s.OBJECT_ID_PROPERTY
        can_slice = keyset and s.can_add_keyset_filter(groups)
        endpoint = f"search:{object_type}"
        seen: set[str] = set()
        last_id: int | None = None
        slice_floor: int | None = None
        after: str | None = None
        rows_in_slice = 0
        stalled = 0
        for _ in range(MAX_PAGES):
            if after is not None and s.offset_of(after, rows_in_slice) + s.MAX_PAGE_SIZE > s.MAX_RESULTS_PER_QUERY:
                self._check_can_slice(endpoint, can_slice, last_id)
                slice_floor, after, rows_in_slice = last_id, None, 0
                self._log(logging.DEBUG, "%s reached the 10,000-result cap; new slice after id %s", endpoint, last_id)
            body = s.search_body(
                s.with_keyset_filter(groups, slice_floor),
                properties=properties,
                sort_property=sort_property,
                limit=s.MAX_PAGE_SIZE,
                after=after,
            )
            page = self._search_page(object_type, body)
            new_records = 0
            for record in page["results"]:
                number = s.record_id_number(record)
                if number is not None and (last_id is None or number > last_id):
                    last_id = number
                record_id = str(record["id"])
                if record_id in seen:
                    continue
                seen.add(record_id)
                new_records += 1
                yield record
            rows_in_slice += len(page["results"])
            following = s.next_after(page)
            if following is None:
                return
            stalled = 0 if new_records else stalled + 1
            if stalled > MAX_STALLED_PAGES:
                raise self._error(
                    HubSpotUnavailableError,
                    f"HubSpot {endpoint}: {stalled} pages in a row announced more data but brought no new "
                    "record; stopping instead of paging forever",
                    endpoint=endpoint,
                )
            if can_slice and last_id is not None:
                # `after` is an offset: a record that leaves the result set mid-scan would shift
                # the next page and hide one record. Asking for ids above the last one seen
                # cannot skip anything, and costs the same one call per page.
                slice_floor, after, rows_in_slice = last_id, None, 0
            else:
                after = following
        raise self._error(
            HubSpotUnavailableError, f"HubSpot {endpoint}: more than {MAX_PAGES} pages; giving up", endpoint=endpoint
        )

    def _check_can_slice(self, endpoint: str, can_slice: bool, last_id: int | None) -> None:
        if can_slice and last_id is not None:
            return
        raise self._error(
            HubSpotRequestError,
            f"HubSpot {endpoint}: the query matches more than {s.MAX_RESULTS_PER_QUERY:,} records and cannot be "
            "sliced (it needs sorting by hs_object_id and room for one more filter per group)",
            endpoint=endpoint,
        )

    def _search_page(self, object_type: str, body: JsonDict) -> JsonDict:
        response = self._request(
            "POST",
            f"/crm/v3/objects/{_segment(object_type)}/search",
            endpoint=f"search:{object_type}",
            policy="search",
            json_body=body,
            validate=s.is_search_page,
        )
        return dict(response.body)

    def scan_attributed(
        self,
        object_type: str,
        properties: Sequence[str],
        partner_property: str = PARTNER_ID_PROPERTY,
    ) -> list[JsonDict]:
        """Every record with any value in `partner_property`; the sync groups them locally
        (matching partner ids case-insensitively), so one scan serves all partners."""
        groups = [{"filters": [{"propertyName": partner_property, "operator": "HAS_PROPERTY"}]}]
        return list(
            self.search_all(object_type, filter_groups=groups, properties=_with(properties, partner_property))
        )

    def search_partner(
        self,
        object_type: str,
        partner_id: str,
        properties: Sequence[str],
        partner_property: str = PARTNER_ID_PROPERTY,
    ) -> list[JsonDict]:
        """Records attributed to one partner (diagnose tool).

        HubSpot's IN operator needs lowercase values for string properties, so we send the
        lowercased id with IN, ORed with an EQ on the id as typed; dedupe merges the two.
        """
        partner_id = partner_id.strip()
        groups: list[JsonDict] = [
            {"filters": [{"propertyName": partner_property, "operator": "IN", "values": [partner_id.lower()]}]},
            {"filters": [{"propertyName": partner_property, "operator": "EQ", "value": partner_id}]},
        ]
        return list(
            self.search_all(object_type, filter_groups=groups, properties=_with(properties, partner_property))
        )

    def count(self, object_type: str, filter_groups: Sequence[JsonDict] | None = None) -> int:
        """HubSpot's `total` for a query, fetched with limit 1."""
        groups = s.normalise_filter_groups(filter_groups)
        body = s.search_body(groups, properties=[], sort_property=s.OBJECT_ID_PROPERTY, limit=1, after=None)
        page = self._request(
            "POST",
            f"/crm/v3/objects/{_segment(object_type)}/search",
            endpoint=f"search:{object_type}",
            policy="search",
            json_body=body,
            validate=lambda b: s.is_search_page(b) and isinstance(b.get("total"), int),
        ).body
        return int(page["total"])

    def verify_token(self) -> bool:
        """One cheap authenticated call; True, or raises (HubSpotAuthError for a bad token)."""
        self.count("contacts")
        return True

    # ----------------------------------------------------------------- batch

    def batch_read(
        self,
        object_type: str,
        ids: Iterable[str],
        *,
        properties: Sequence[str],
        id_property: str | None = None,
    ) -> BatchResult:
        """Records by id (or by a unique property with `id_property`), ≤100 per call."""
        unique_ids = list(dict.fromkeys(str(record_id) for record_id in ids))

        def body(chunk: list[str]) -> JsonDict:
            payload: JsonDict = {"properties": list(properties), "inputs": [{"id": i} for i in chunk]}
            if id_property:
                payload["idProperty"] = id_property
            return payload

        return self._batch(object_type, "read", unique_ids, body)

    def batch_update(
        self,
        object_type: str,
        inputs: Iterable[Mapping[str, Any]],
        *,
        id_property: str | None = None,
    ) -> BatchResult:
        """Update records ({"id", "properties"} each), ≤100 per call.

        Two inputs for the same id are merged (later properties win), because HubSpot
        rejects a batch with duplicate ids as a whole.
        """
        merged: dict[str, dict[str, Any]] = {}
        for item in inputs:
            record_id = str(item["id"])
            merged.setdefault(record_id, {}).update(dict(item.get("properties") or {}))

        def body(chunk: list[str]) -> JsonDict:
            rows = []
            for record_id in chunk:
                row: JsonDict = {"id": record_id, "properties": merged[record_id]}
                if id_property:
                    row["idProperty"] = id_property
                rows.append(row)
            return {"inputs": rows}

        return self._batch(object_type, "update", list(merged), body)

    def _batch(
        self,
        object_type: str,
        action: Literal["read", "update"],
        ids: list[str],
        body_for: Callable[[list[str]], JsonDict],
    ) -> BatchResult:
        result = BatchResult()
        for start in range(0, len(ids), BATCH_LIMIT):
            chunk = ids[start : start + BATCH_LIMIT]
            response = self._request(
                "POST",
                f"/crm/v3/objects/{_segment(object_type)}/batch/{action}",
                endpoint=f"batch_{action}:{object_type}",
                policy="burst",
                json_body=body_for(chunk),
                validate=_is_batch_answer,
            )
            result.results.extend(response.body.get("results") or [])
            result.errors.extend(_batch_errors(response.body))
        return result

    # ----------------------------------------------------------------- properties

    def get_property(self, object_type: str, name: str) -> JsonDict:
        """A property definition (type, options, ...)."""
        return dict(
            self._request(
                "GET",
                f"/crm/v3/properties/{_segment(object_type)}/{_segment(name)}",
                endpoint=f"get_property:{object_type}",
                policy="burst",
                validate=lambda b: isinstance(b, dict),
            ).body
        )

    def update_property_options(
        self, object_type: str, name: str, options: Sequence[Mapping[str, Any]]
    ) -> JsonDict:
        """Replace an enumeration's options. HubSpot replaces the list as a whole, so pass
        every option to keep (read with `get_property`, add, write all back)."""
        return dict(
            self._request(
                "PATCH",
                f"/crm/v3/properties/{_segment(object_type)}/{_segment(name)}",
                endpoint=f"update_property:{object_type}",
                policy="burst",
                json_body={"options": [dict(option) for option in options]},
                validate=lambda b: isinstance(b, dict),
            ).body
        )

    # ----------------------------------------------------------------- the request loop

    def _request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        policy: Policy,
        json_body: JsonDict | None = None,
        validate: Callable[[Any], bool] = lambda body: True,
    ) -> _Response:
        """Send one logical request: pace, attempt, classify, retry within the budget."""
        limiter = self._limiters[policy]
        attempts = self.retry_policy.max_retries + 1
        for attempt in range(1, attempts + 1):
            paced_for = limiter.acquire()
            self.stats.record_call(endpoint, paced_for=paced_for)
            outcome = self._attempt(method, path, endpoint, json_body, validate)
            if isinstance(outcome, _Response):
                limiter.observe_headers(outcome.headers)
                return outcome
            failure = outcome
            self.stats.record_failure(failure.kind.value)
            wait = self.retry_policy.wait_before_retry(attempt, failure)
            if wait is None:
                raise self._exhausted(endpoint, failure, attempt)
            self._log(
                logging.WARNING,
                "HubSpot %s attempt %d/%d failed (%s); retrying in %.2fs",
                endpoint,
                attempt,
                attempts,
                _describe(failure),
                wait,
            )
            if failure.kind is FailureKind.RATE_LIMITED:
                limiter.hold(wait)  # everyone sharing this policy backs off, not just us
            self._sleep(wait)
            self.stats.record_retry(endpoint, wait)
        raise AssertionError("unreachable: the last attempt either returns or raises")

    def _attempt(
        self,
        method: str,
        path: str,
        endpoint: str,
        json_body: JsonDict | None,
        validate: Callable[[Any], bool],
    ) -> _Response | Failure:
        """One HTTP attempt: a good response, or a retryable `Failure`; raises on 4xx."""
        try:
            status, headers, raw = self._send(method, path, json_body)
        except httpx.UnsupportedProtocol as exc:  # a base URL typo: no retry can fix it
            raise self._error(
                HubSpotRequestError, f"HubSpot {endpoint}: bad HUBSPOT_BASE_URL ({exc})", endpoint=endpoint
            ) from None
        except httpx.TimeoutException as exc:
            return Failure(FailureKind.TIMEOUT, f"{type(exc).__name__}: {exc}")
        except httpx.TransportError as exc:  # refused, reset, RemoteProtocolError, ReadError mid-body
            return Failure(FailureKind.CONNECTION, f"{type(exc).__name__}: {exc}")
        if status == 429:
            self.stats.record_rate_limited(endpoint)
            return _rate_limit_failure(headers, raw)
        if status >= 500:
            return _server_failure(status, headers, raw)
        if status in (401, 403):
            raise self._auth_error(endpoint, status, raw)
        if status >= 300:
            raise self._request_error(endpoint, status, raw)
        return self._parse_success(status, headers, raw, validate)

    def _send(self, method: str, path: str, json_body: JsonDict | None) -> tuple[int, httpx.Headers, bytes]:
        """Send and read the whole body, abandoning it once `timeout` has passed since the
        attempt began (httpx's timeouts are per read, so a trickling body could last forever)."""
        started = time.monotonic()  # real time, not the injectable pacing clock
        with self._http.stream(method, path, json=json_body) as response:
            chunks: list[bytes] = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if time.monotonic() - started > self.timeout:
                    raise httpx.ReadTimeout("response body still arriving after the attempt deadline")
            return response.status_code, response.headers, b"".join(chunks)

    def _parse_success(
        self, status: int, headers: httpx.Headers, raw: bytes, validate: Callable[[Any], bool]
    ) -> _Response | Failure:
        if status == 204 or (not raw.strip() and status != 200):
            return _Response(status, headers, {})
        try:
            body = json.loads(raw)
        except ValueError as exc:  # includes UnicodeDecodeError
            return Failure(FailureKind.MALFORMED_BODY, f"{status} with an unreadable JSON body ({exc})", status=status)
        if not validate(body):
            return Failure(FailureKind.MALFORMED_BODY, f"{status} with an unexpected body shape", status=status)
        return _Response(status, headers, body)

    # ----------------------------------------------------------------- errors

    def _exhausted(self, endpoint: str, failure: Failure, attempts: int) -> HubSpotError:
        rate_limited = failure.kind is FailureKind.RATE_LIMITED
        cls: type[HubSpotError] = HubSpotRateLimitedError if rate_limited else HubSpotUnavailableError
        if rate_limited and (failure.policy_name or "").upper() == "DAILY":
            reason = "the account's DAILY API limit is used up; it resets at midnight (account time zone)"
        elif failure.retry_after is not None and failure.retry_after > self.retry_policy.backoff_cap:
            reason = (
                f"HubSpot asked to wait {failure.retry_after:.0f}s, more than the retry cap "
                f"({self.retry_policy.backoff_cap:.0f}s)"
            )
        else:
            reason = f"gave up after {attempts} attempt(s)"
        return self._error(
            cls,
            f"HubSpot {endpoint}: {reason}; last failure: {_describe(failure)}",
            status=failure.status,
            category=failure.category,
            correlation_id=failure.correlation_id,
            endpoint=endpoint,
        )

    def _auth_error(self, endpoint: str, status: int, raw: bytes) -> HubSpotAuthError:
        info = _error_info(raw)
        scopes = _missing_scopes(info.get("_body"))
        what = "rejected the token" if status == 401 else "refused the request (permissions)"
        message = f"HubSpot {endpoint} {what}: {_summary(status, info)}"
        if scopes:
            message += f"; missing scope(s): {', '.join(scopes)} — grant them to the private app"
        elif status == 401:
            message += "; check HUBSPOT_API_TOKEN (expired, revoked or for another account?)"
        error = self._error(
            HubSpotAuthError,
            message,
            status=status,
            category=info.get("category"),
            correlation_id=info.get("correlationId"),
            endpoint=endpoint,
        )
        assert isinstance(error, HubSpotAuthError)
        error.missing_scopes = scopes
        return error

    def _request_error(self, endpoint: str, status: int, raw: bytes) -> HubSpotError:
        info = _error_info(raw)
        return self._error(
            HubSpotRequestError,
            f"HubSpot {endpoint} failed: {_summary(status, info)}",
            status=status,
            category=info.get("category"),
            correlation_id=info.get("correlationId"),
            endpoint=endpoint,
        )

    def _error(self, cls: type[HubSpotError], message: str, **details: Any) -> HubSpotError:
        """Build an exception with a redacted message, and log it once (as a warning: the
        caller decides whether it is fatal, and the flow logs what it lets propagate)."""
        text = redact(message, [self._token])
        details = {key: redact(value, [self._token]) if isinstance(value, str) else value for key, value in details.items()}
        self._log(logging.WARNING, "%s", text)
        return cls(text, **details)

    def _log(self, level: int, template: str, *args: object) -> None:
        if not logger.isEnabledFor(level):
            return
        text = template % args if args else template
        logger.log(level, "%s %s", LOG_PREFIX, redact(text, [self._token]))


# --------------------------------------------------------------------- module helpers


def _search_limiter(per_second: float, *, clock: Clock, sleep: Sleep) -> SlidingWindowLimiter:
    """`per_second` as "N starts per window": 5/s → 5 per 1 s; 0.5/s → 1 per 2 s."""
    max_calls = max(1, math.floor(per_second))
    return SlidingWindowLimiter(
        "search", max_calls, max_calls / per_second, safety_margin=SEARCH_SAFETY_MARGIN, clock=clock, sleep=sleep
    )


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _with(properties: Sequence[str], extra: str) -> list[str]:
    return list(dict.fromkeys([*properties, extra]))


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _error_info(raw: bytes) -> dict[str, Any]:
    """HubSpot's error fields (status, message, category, correlationId, policyName, ...)."""
    body = _json_or_none(raw)
    info: dict[str, Any] = {"_body": body}
    if isinstance(body, dict):
        for key in ("status", "message", "category", "correlationId", "policyName", "errorType", "subCategory"):
            if isinstance(body.get(key), (str, int)):
                info[key] = str(body[key])
    elif raw:
        info["message"] = raw[:300].decode("utf-8", "replace")
    return info


def _summary(status: int, info: Mapping[str, Any]) -> str:
    parts = [str(status)]
    if info.get("category"):
        parts.append(str(info["category"]))
    text = " ".join(parts)
    if info.get("message"):
        text += f": {info['message']}"
    if info.get("correlationId"):
        text += f" (correlationId {info['correlationId']})"
    return text


def _missing_scopes(body: Any, depth: int = 0) -> tuple[str, ...]:
    """Scope names anywhere in a 403 body: `context.requiredGranularScopes`, `missingScopes`,
    or the string form "{missingScopes=[a, b]}" some endpoints send."""
    found: list[str] = []
    if depth > 6:
        return ()
    if isinstance(body, dict):
        for key, value in body.items():
            if key in _SCOPE_KEYS:
                found.extend(_scope_names(value))
            else:
                found.extend(_missing_scopes(value, depth + 1))
    elif isinstance(body, list):
        for item in body:
            found.extend(_missing_scopes(item, depth + 1))
    elif isinstance(body, str) and "scope" in body.lower():
        for match in re.finditer(r"(?i)(?:required|missing)\w*scopes?=\[([^\]]*)\]", body):
            found.extend(name.strip() for name in match.group(1).split(","))
    return tuple(dict.fromkeys(name for name in found if name))


def _scope_names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip(" []'\"") for part in value.split(",")]
    if isinstance(value, list):
        return [str(item).strip() for item in value if isinstance(item, (str, int))]
    return []


def _rate_limit_failure(headers: httpx.Headers, raw: bytes) -> Failure:
    info = _error_info(raw)
    interval_ms = headers.get("x-hubspot-ratelimit-interval-milliseconds")
    interval = None
    if interval_ms and interval_ms.strip().isdigit() and int(interval_ms) > 0:
        interval = int(interval_ms) / 1000.0
    policy = info.get("policyName")
    return Failure(
        FailureKind.RATE_LIMITED,
        "429" + (f" {policy}" if policy else "") + (f": {info['message']}" if info.get("message") else ""),
        status=429,
        retry_after=parse_retry_after(headers.get("retry-after")),
        policy_name=policy,
        interval_seconds=interval,
        category=info.get("category"),
        correlation_id=info.get("correlationId"),
    )


def _server_failure(status: int, headers: httpx.Headers, raw: bytes) -> Failure:
    info = _error_info(raw)
    return Failure(
        FailureKind.SERVER_ERROR,
        _summary(status, info),
        status=status,
        retry_after=parse_retry_after(headers.get("retry-after")),
        category=info.get("category"),
        correlation_id=info.get("correlationId"),
    )


def _describe(failure: Failure) -> str:
    return failure.detail if failure.kind is not FailureKind.RATE_LIMITED else f"rate limited, {failure.detail}"


def _is_batch_answer(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("results", []), list) and isinstance(body.get("errors", []), list)


def _batch_errors(body: JsonDict) -> list[BatchError]:
    errors = []
    for item in body.get("errors") or []:
        if not isinstance(item, dict):
            continue
        context = item.get("context") if isinstance(item.get("context"), dict) else {}
        ids = context.get("ids") or context.get("id") or []
        if isinstance(ids, str):
            ids = [ids]
        errors.append(
            BatchError(
                ids=tuple(str(i) for i in ids),
                message=str(item.get("message", "")),
                category=item.get("category"),
                status=str(item["status"]) if item.get("status") is not None else None,
                raw=item,
            )
        )
    return errors
