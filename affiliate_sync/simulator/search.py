"""CRM search semantics: request validation, filter evaluation, sorting and offset paging.

Follows HubSpot's documented behaviour: filters in a group are ANDed, groups are ORed;
string `EQ`/`NEQ` ignore case; `IN`/`NOT_IN` on string properties compare the record's
lower-cased value with the given values as they are (so upper-case values match nothing);
number and date properties compare numerically; records lacking a value never match a
positive operator and always match a negative one (`NEQ`, `NOT_IN`, `NOT_CONTAINS_TOKEN`).
"""

from __future__ import annotations

import bisect
import fnmatch
import json
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from affiliate_sync.simulator.config import SearchLimits
from affiliate_sync.simulator.errors import validation_error
from affiliate_sync.simulator.store import ObjectTable, Record
from affiliate_sync.simulator.values import parse_epoch_ms, parse_number, tokens

OPERATORS: frozenset[str] = frozenset(
    {
        "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
        "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
    }
)
_NEGATIVE: frozenset[str] = frozenset({"NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN"})
_TEXT_QUERY_PROPERTIES: tuple[str, ...] = (
    "email", "firstname", "lastname", "company", "name", "dealname", "partner_id", "domain",
)

Predicate = Callable[[Record], bool]


@dataclass(frozen=True)
class Filter:
    """One filter of a filter group."""

    property: str
    operator: str
    value: str | None = None
    high_value: str | None = None
    values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Sort:
    property: str
    descending: bool


@dataclass(frozen=True)
class SearchQuery:
    """A validated search request."""

    groups: tuple[tuple[Filter, ...], ...]
    sort: Sort | None
    properties: tuple[str, ...] | None
    limit: int
    after: int
    text: str | None

    def cache_key(self) -> str:
        """What decides the matching ids (not the page): filters, sort and free text."""
        return json.dumps([self.groups, self.sort, self.text], default=lambda o: o.__dict__)


def parse_query(body: Any, limits: SearchLimits) -> SearchQuery:
    """Validate a search body against HubSpot's limits; raise a 400 `ApiError` otherwise."""
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: expected an object.")
    limit = _parse_limit(body.get("limit"), limits)
    after = _parse_after(body.get("after"))
    if after + limit > limits.max_results:
        raise validation_error(
            f"Paging past {limits.max_results} results is not supported: after ({after}) + limit ({limit}) "
            f"exceeds {limits.max_results}. Narrow the query (for example with a range on hs_object_id).",
            context={"after": [str(after)], "limit": [str(limit)]},
        )
    groups = _parse_groups(body.get("filterGroups") or [], limits)
    sort = _parse_sort(body.get("sorts") or [])
    properties = body.get("properties")
    if properties is not None:
        if not isinstance(properties, list) or not all(isinstance(p, str) for p in properties):
            raise validation_error("properties must be a list of property names.")
        properties = tuple(properties)
    text = body.get("query")
    if text is not None and not isinstance(text, str):
        raise validation_error("query must be a string.")
    return SearchQuery(groups, sort, properties, limit, after, text or None)


def _parse_limit(raw: Any, limits: SearchLimits) -> int:
    if raw is None:
        return limits.default_limit
    if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).strip().isdigit():
        raise validation_error(f"limit must be an integer between 0 and {limits.max_limit}; got {raw!r}.")
    limit = int(raw)
    if limit > limits.max_limit:
        raise validation_error(
            f"limit must be less than or equal to {limits.max_limit}; got {limit}.",
            context={"limit": [str(limit)]},
        )
    return limit


def _parse_after(raw: Any) -> int:
    if raw is None or raw == "":
        return 0
    if isinstance(raw, bool) or not isinstance(raw, (int, str)) or not str(raw).strip().isdigit():
        raise validation_error(f"after must be a paging token from a previous response; got {raw!r}.")
    return int(raw)


def _parse_groups(raw: Any, limits: SearchLimits) -> tuple[tuple[Filter, ...], ...]:
    if not isinstance(raw, list):
        raise validation_error("filterGroups must be a list.")
    if len(raw) > limits.max_groups:
        raise validation_error(
            f"Too many filter groups: {len(raw)}. The maximum number of filter groups is {limits.max_groups}."
        )
    groups: list[tuple[Filter, ...]] = []
    total = 0
    for group in raw:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise validation_error("Each filter group needs a filters list.")
        if len(filters) > limits.max_filters_per_group:
            raise validation_error(
                f"Too many filters in a filter group: {len(filters)}. The maximum is {limits.max_filters_per_group}."
            )
        total += len(filters)
        groups.append(tuple(_parse_filter(item) for item in filters))
    if total > limits.max_filters_total:
        raise validation_error(f"Too many filters: {total}. The maximum number of filters is {limits.max_filters_total}.")
    return tuple(groups)


def _parse_filter(raw: Any) -> Filter:
    if not isinstance(raw, dict) or not isinstance(raw.get("propertyName"), str):
        raise validation_error("Each filter needs a propertyName.")
    operator = raw.get("operator")
    if operator not in OPERATORS:
        raise validation_error(f"Unknown filter operator {operator!r}. Expected one of {sorted(OPERATORS)}.")
    value = raw.get("value")
    high = raw.get("highValue")
    values = raw.get("values")
    if operator in ("IN", "NOT_IN"):
        if not isinstance(values, list) or not values:
            raise validation_error(f"{operator} filter on {raw['propertyName']} needs a non-empty values list.")
        values = tuple(str(v) for v in values)
    elif operator == "BETWEEN":
        if value is None or high is None:
            raise validation_error(f"BETWEEN filter on {raw['propertyName']} needs value and highValue.")
    elif operator not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY") and value is None:
        raise validation_error(f"{operator} filter on {raw['propertyName']} needs a value.")
    return Filter(
        raw["propertyName"],
        operator,
        None if value is None else str(value),
        None if high is None else str(high),
        values if isinstance(values, tuple) else None,
    )


def _parse_sort(raw: Any) -> Sort | None:
    if not isinstance(raw, list):
        raise validation_error("sorts must be a list.")
    if len(raw) > 1:
        raise validation_error(f"Only one sort is supported; got {len(raw)}.")
    if not raw:
        return None
    item = raw[0]
    if isinstance(item, str):
        return Sort(item.lstrip("-"), item.startswith("-"))
    if not isinstance(item, dict) or not isinstance(item.get("propertyName"), str):
        raise validation_error("A sort needs a propertyName.")
    direction = str(item.get("direction", "ASCENDING")).upper()
    if direction not in ("ASCENDING", "DESCENDING"):
        raise validation_error(f"Sort direction must be ASCENDING or DESCENDING; got {direction!r}.")
    return Sort(item["propertyName"], direction == "DESCENDING")


class SearchEngine:
    """Finds matching ids for a query, caching them per store version so paging stays cheap."""

    def __init__(self, cache_size: int = 32) -> None:
        self._cache: OrderedDict[tuple[str, int, str], list[int]] = OrderedDict()
        self._cache_size = cache_size

    def clear(self) -> None:
        self._cache.clear()

    def matching_ids(self, table: ObjectTable, version: int, query: SearchQuery) -> list[int]:
        """All matching ids in result order; call with the store lock held.

        A keyset page (`hs_object_id GT n` in every group, id order) is the cached match set of
        the same query without that bound, cut at n: scanning page after page stays linear
        instead of filtering every remaining record again for each page.
        """
        floor, unbounded = _split_keyset(query)
        if floor is not None:
            ids = self._matching(table, version, unbounded)
            return ids[bisect.bisect_right(ids, floor):]
        return self._matching(table, version, query)

    def _matching(self, table: ObjectTable, version: int, query: SearchQuery) -> list[int]:
        key = (table.object_type, version, query.cache_key())
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        ids = _sorted(table, _filtered(table, query), query.sort)
        self._cache[key] = ids
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return ids


def _split_keyset(query: SearchQuery) -> tuple[int | None, SearchQuery]:
    """`(n, query without the bound)` when every group carries the same `hs_object_id GT n` and
    results come in id order; `(None, query)` otherwise."""
    if query.text or not query.groups or (query.sort is not None and query.sort != Sort("hs_object_id", False)):
        return None, query
    bounds = {
        item.value for group in query.groups for item in group
        if item.property == "hs_object_id" and item.operator == "GT"
    }
    floors = {_int_or_none(value) for value in bounds}
    if len(floors) != 1 or None in floors:
        return None, query
    groups = tuple(
        tuple(item for item in group if not (item.property == "hs_object_id" and item.operator == "GT"))
        for group in query.groups
    )
    if any(len(group) != len(original) - 1 for group, original in zip(groups, query.groups)):
        return None, query  # some group lacks the bound (or has it twice): not a keyset page
    return floors.pop(), replace(query, groups=groups)


def _filtered(table: ObjectTable, query: SearchQuery) -> list[int]:
    text_match = _text_predicate(query.text)
    if not query.groups:
        if text_match is None:
            return table.ids
        return [i for i in table.ids if text_match(table.records[i])]
    matched: set[int] = set()
    for group in query.groups:
        predicates = [_compile(table, item) for item in group]
        if text_match is not None:
            predicates.append(text_match)
        for record_id in _candidates(table, group):
            if record_id in matched:
                continue
            record = table.records[record_id]
            if all(predicate(record) for predicate in predicates):
                matched.add(record_id)
    return sorted(matched)


def _candidates(table: ObjectTable, group: tuple[Filter, ...]) -> Iterable[int]:
    """The smallest id set an index yields for one of the group's filters (else every id)."""
    best: Iterable[int] | None = None
    best_size = len(table.ids) + 1
    for item in group:
        found = _indexed(table, item)
        if found is not None and len(found) < best_size:
            best, best_size = found, len(found)
    return table.ids if best is None else best


def _indexed(table: ObjectTable, item: Filter) -> set[int] | list[int] | None:
    if item.property == "hs_object_id":
        low, high = _id_bounds(item)
        if low is None and high is None:
            return None
        return table.id_range(low, high)
    if table.kind(item.property) != "string":
        return None
    if item.operator == "EQ" and item.value is not None:
        return table.folded_ids(item.property, item.value.lower())
    if item.operator == "IN" and item.values is not None:
        found: set[int] = set()
        for value in item.values:
            found |= table.folded_ids(item.property, value)
        return found
    return None


def _id_bounds(item: Filter) -> tuple[int | None, int | None]:
    value = _int_or_none(item.value)
    if item.operator == "EQ":
        return (value, value) if value is not None else (None, None)
    if item.operator == "GT" and value is not None:
        return value + 1, None
    if item.operator == "GTE":
        return value, None
    if item.operator == "LT" and value is not None:
        return None, value - 1
    if item.operator == "LTE":
        return None, value
    if item.operator == "BETWEEN":
        return value, _int_or_none(item.high_value)
    return None, None


def _int_or_none(value: str | None) -> int | None:
    number = parse_number(value)
    if number is None:
        return None
    # Bounds for an integer id: GT 10.5 means >= 11, and LTE 10.5 means <= 10.
    return int(number) if number.is_integer() else None


def _compile(table: ObjectTable, item: Filter) -> Predicate:
    """A predicate on records for one filter, with the comparison family of its property."""
    name, operator = item.property, item.operator
    kind = "number" if name == "hs_object_id" else table.kind(name)

    def raw(record: Record) -> str | None:
        value = record.properties.get(name)
        return None if value is None or value == "" else value

    if operator == "HAS_PROPERTY":
        return lambda record: raw(record) is not None
    if operator == "NOT_HAS_PROPERTY":
        return lambda record: raw(record) is None
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        matcher = _token_matcher(item.value or "")
        if operator == "CONTAINS_TOKEN":
            return lambda record: (value := raw(record)) is not None and matcher(value)
        return lambda record: (value := raw(record)) is None or not matcher(value)

    convert = _converter(kind)
    if kind == "string":
        targets_in = frozenset(item.values or ())
        value_folded = (item.value or "").lower()
        high_folded = (item.high_value or "").lower()
        check = _comparison(operator, value_folded, high_folded, targets_in)
    else:
        check = _typed_check(operator, item, convert, name)

    negative = operator in _NEGATIVE

    def predicate(record: Record) -> bool:
        value = raw(record)
        if value is None:
            return negative
        converted = value.lower() if kind == "string" else convert(value)
        if converted is None:
            return negative
        return check(converted)

    return predicate


def _converter(kind: str) -> Callable[[str], Any]:
    if kind == "number":
        return parse_number
    if kind == "date":
        return parse_epoch_ms
    return lambda value: value


def _comparison(operator: str, value: Any, high: Any, targets: frozenset[Any]) -> Callable[[Any], bool]:
    """The check one comparison operator makes against already-converted filter values."""
    checks: dict[str, Callable[[Any], bool]] = {
        "EQ": lambda v: v == value,
        "NEQ": lambda v: v != value,
        "LT": lambda v: v < value,
        "LTE": lambda v: v <= value,
        "GT": lambda v: v > value,
        "GTE": lambda v: v >= value,
        "BETWEEN": lambda v: value <= v <= high,
        # For strings the record value is lower-cased, the given values are not: HubSpot's IN contract.
        "IN": lambda v: v in targets,
        "NOT_IN": lambda v: v not in targets,
    }
    return checks[operator]


def _typed_check(operator: str, item: Filter, convert: Callable[[str], Any], name: str) -> Callable[[Any], bool]:
    def need(raw: str | None) -> Any:
        converted = convert(raw) if raw is not None else None
        if converted is None:
            raise validation_error(f"{raw!r} is not a valid value for {name} with operator {operator}.")
        return converted

    if operator in ("IN", "NOT_IN"):
        return _comparison(operator, None, None, frozenset(need(v) for v in item.values or ()))
    value = need(item.value)
    high = need(item.high_value) if operator == "BETWEEN" else None
    return _comparison(operator, value, high, frozenset())


def _token_matcher(pattern: str) -> Callable[[str], bool]:
    """CONTAINS_TOKEN: every word of the pattern matches a word of the value (`*` is a wildcard)."""
    lowered = pattern.lower().strip()
    if "*" in lowered:
        parts = lowered.split()
        return lambda value: all(
            fnmatch.fnmatchcase(value.lower(), part) or any(fnmatch.fnmatchcase(t, part) for t in tokens(value))
            for part in parts
        )
    wanted = tokens(lowered)
    return lambda value: bool(wanted) and set(wanted) <= set(tokens(value))


def _text_predicate(text: str | None) -> Predicate | None:
    if not text:
        return None
    needle = text.lower()

    def predicate(record: Record) -> bool:
        return any(needle in (record.properties.get(name) or "").lower() for name in _TEXT_QUERY_PROPERTIES)

    return predicate


def _sorted(table: ObjectTable, ids: list[int], sort: Sort | None) -> list[int]:
    """Default order is id ascending; a sort orders by value (nulls last), ties by id."""
    if sort is None or (sort.property == "hs_object_id" and not sort.descending):
        return ids
    if sort.property == "hs_object_id":
        return list(reversed(ids))
    kind = table.kind(sort.property)
    convert = _converter(kind)
    present: list[tuple[Any, int]] = []
    missing: list[int] = []
    for record_id in ids:
        value = table.records[record_id].properties.get(sort.property)
        converted = None if value in (None, "") else (value.lower() if kind == "string" else convert(value))
        if converted is None:
            missing.append(record_id)
        else:
            present.append((converted, record_id))
    present.sort(key=lambda pair: pair[1])
    present.sort(key=lambda pair: pair[0], reverse=sort.descending)
    return [record_id for _, record_id in present] + missing


def execute(engine: SearchEngine, table: ObjectTable, version: int, query: SearchQuery) -> dict[str, Any]:
    """The search response body (call with the store lock held)."""
    ids = engine.matching_ids(table, version, query)
    page = ids[query.after : query.after + query.limit]
    body: dict[str, Any] = {
        "total": len(ids),
        "results": [table.records[record_id].to_api(query.properties) for record_id in page],
    }
    next_offset = query.after + len(page)
    # HubSpot hands out a token even when it points past 10,000; following it is the 400.
    if query.limit > 0 and next_offset < len(ids):
        body["paging"] = {"next": {"after": str(next_offset)}}
    return body
