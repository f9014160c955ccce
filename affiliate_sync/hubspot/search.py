"""CRM search request shapes and HubSpot's search limits (SPEC §2), as pure functions.

The paging loop itself lives in `HubSpotClient.search_all`; this module only builds and
checks the request bodies it sends.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

MAX_PAGE_SIZE = 200
# HubSpot answers 400 once `after` + `limit` would pass this many results of one query.
MAX_RESULTS_PER_QUERY = 10_000
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS_TOTAL = 18
OBJECT_ID_PROPERTY = "hs_object_id"

FilterGroups = list[dict[str, Any]]


def normalise_filter_groups(filter_groups: Sequence[dict[str, Any]] | None) -> FilterGroups:
    """A deep copy (we add filters to it) with HubSpot's limits checked up front.

    A violation is a programming error in the caller, so it is a ValueError here instead
    of a 400 round trip.
    """
    groups = [dict(group, filters=list(group.get("filters", []))) for group in copy.deepcopy(list(filter_groups or []))]
    check_filter_limits(groups)
    return groups


def check_filter_limits(groups: FilterGroups) -> None:
    if len(groups) > MAX_FILTER_GROUPS:
        raise ValueError(f"HubSpot search allows at most {MAX_FILTER_GROUPS} filter groups, got {len(groups)}")
    for group in groups:
        if len(group["filters"]) > MAX_FILTERS_PER_GROUP:
            raise ValueError(
                f"HubSpot search allows at most {MAX_FILTERS_PER_GROUP} filters per group, got {len(group['filters'])}"
            )
    total = sum(len(group["filters"]) for group in groups)
    if total > MAX_FILTERS_TOTAL:
        raise ValueError(f"HubSpot search allows at most {MAX_FILTERS_TOTAL} filters in all, got {total}")


def can_add_keyset_filter(groups: FilterGroups) -> bool:
    """Whether one more filter per group (the keyset bound) still fits HubSpot's limits."""
    if not groups:
        return True
    if any(len(group["filters"]) >= MAX_FILTERS_PER_GROUP for group in groups):
        return False
    return sum(len(group["filters"]) for group in groups) + len(groups) <= MAX_FILTERS_TOTAL


def with_keyset_filter(groups: FilterGroups, after_id: int | None) -> FilterGroups:
    """`groups` with `hs_object_id > after_id` ANDed into every group (groups are ORed,
    so the bound must be in each one)."""
    if after_id is None:
        return groups
    bound = {"propertyName": OBJECT_ID_PROPERTY, "operator": "GT", "value": str(after_id)}
    if not groups:
        return [{"filters": [bound]}]
    return [dict(group, filters=[*group["filters"], bound]) for group in groups]


def search_body(
    groups: FilterGroups,
    *,
    properties: Sequence[str],
    sort_property: str,
    limit: int,
    after: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "filterGroups": groups,
        "properties": list(properties),
        "sorts": [{"propertyName": sort_property, "direction": "ASCENDING"}],
        "limit": limit,
    }
    if after is not None:
        body["after"] = after
    return body


def is_search_page(body: object) -> bool:
    """A 2xx search answer we can page on; anything else is treated as a transient glitch."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return False
    if not all(isinstance(record, dict) and "id" in record for record in body["results"]):
        return False
    paging = body.get("paging")
    return paging is None or isinstance(paging, dict)


def next_after(page: dict[str, Any]) -> str | None:
    """`paging.next.after`, the only end-of-data signal: absent means done."""
    paging = page.get("paging") or {}
    following = paging.get("next") if isinstance(paging, dict) else None
    if not isinstance(following, dict) or following.get("after") in (None, ""):
        return None
    return str(following["after"])


def offset_of(after: str | None, counted: int) -> int:
    """How deep into the query the next page starts.

    HubSpot's `after` is a numeric offset today; we also count rows ourselves and take the
    larger, so an opaque or odd token can only make us slice early, never run into the cap.
    """
    if after is None:
        return 0
    try:
        return max(int(after), counted)
    except ValueError:
        return counted


def record_id_number(record: dict[str, Any]) -> int | None:
    try:
        return int(str(record["id"]))
    except (KeyError, ValueError):
        return None
