"""HubSpot faults over real HTTP (simulator fault injection) against the real sync flow.

Every case ends in one of two ways, both checked byte for byte:
* recovered: the registry and the cache are exactly the fault-free baseline's;
* failed cleanly: the right error code, the previous cache and the original registry
  untouched, one alert e-mail with that code, and the number of attempts HubSpot saw is
  the retry budget: (HUBSPOT_MAX_RETRIES + 1) per task attempt x 3 task attempts for
  transient faults, 1 for auth, 1 per task attempt when HubSpot asks for a wait above the cap.
The leak guard (conftest `world`) checks the token never surfaced anywhere.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
from .conftest import TIMEOUT_SECONDS, World, prepare
from .reliability_support import TOKEN, record_figures, without_last_sync

from affiliate_sync.cache import read_cache
from affiliate_sync.errors import ErrorCode, error_code_of
from affiliate_sync.hubspot import HubSpotClient
from affiliate_sync.hubspot.client import MAX_STALLED_PAGES
from affiliate_sync.settings import load_settings
from tasks.retry import TASK_RETRIES

TASK_ATTEMPTS = TASK_RETRIES + 1
STORM = 500  # more faults than any budget can retry through


@dataclass
class Case:
    id: str
    faults: list[dict[str, Any]]
    outcome: ErrorCode | None  # None: the run recovers
    attempts: int | None = None  # requests HubSpot sees on the faulted endpoint (failure cases)
    endpoint: tuple[str, str] = ("search", "contacts")
    limits: dict[str, Any] = field(default_factory=dict)  # simulator rate limits for the case
    message: tuple[str, ...] = ()  # the error names these
    env: dict[str, str] = field(default_factory=dict)  # §7 variables for the case


SEARCH = dict(endpoint="search", object_type="contacts")
UPDATE = dict(endpoint="batch_update")
READ = dict(endpoint="batch_read")
NO_POLICY_429 = json.dumps({"status": "error", "message": "Too many requests", "errorType": "RATE_LIMIT",
                            "correlationId": "c0ffee00-0000-4000-8000-000000000429"})
TOKEN_ECHO = json.dumps({"status": "error", "message": f"upstream rejected credential {TOKEN} (echoed)", "category": "INTERNAL"})

# Storms run with one client retry (HUBSPOT_MAX_RETRIES=1) to keep the suite quick; the budget
# they must hit is (1 + 1) x 3 task attempts. Bursts keep the default 2, so they recover inside
# the client without a task retry.
STORM_RETRIES = 1
BUDGET = TASK_ATTEMPTS * (STORM_RETRIES + 1)
STORM_ENV = {"HUBSPOT_MAX_RETRIES": str(STORM_RETRIES)}
CASES = [
    # 429 storms on search: its responses carry no rate-limit headers.
    Case("search-429-secondly-burst", [dict(kind="status", status=429, count=2, **SEARCH)], None),
    Case("search-429-no-policy-burst", [dict(kind="status", status=429, body=NO_POLICY_429, count=2, **SEARCH)], None),
    Case("search-429-storm", [dict(kind="status", status=429, count=STORM, **SEARCH)],
         ErrorCode.HUBSPOT_RATE_LIMITED, BUDGET, message=("search:contacts", "429"), env=STORM_ENV),
    Case("search-429-retry-after-above-cap", [dict(kind="status", status=429, retry_after=120, count=STORM, **SEARCH)],
         ErrorCode.HUBSPOT_RATE_LIMITED, TASK_ATTEMPTS, message=("more than the retry cap",)),
    Case("search-429-daily", [dict(kind="status", status=429, policy="DAILY", count=STORM, **SEARCH)],
         ErrorCode.HUBSPOT_RATE_LIMITED, TASK_ATTEMPTS, message=("DAILY",)),
    # 429 TEN_SECONDLY_ROLLING with X-HubSpot-RateLimit-* headers (simulator limits on, 1 s window).
    Case("batch-429-ten-secondly-burst", [dict(kind="status", status=429, policy="TEN_SECONDLY_ROLLING", count=2, **READ)],
         None, limits=dict(burst_window_seconds=1.0, burst_max=1000, search_max=1000)),
    Case("batch-429-ten-secondly-storm",
         [dict(kind="status", status=429, policy="TEN_SECONDLY_ROLLING", count=STORM, **UPDATE)],
         ErrorCode.HUBSPOT_RATE_LIMITED, BUDGET, ("batch_update", "2-197867933"),
         limits=dict(burst_window_seconds=1.0, burst_max=1000, search_max=1000), message=("TEN_SECONDLY_ROLLING",),
         env=STORM_ENV),
    # 5xx bursts.
    Case("search-503-burst", [dict(kind="status", status=503, count=2, **SEARCH)], None),
    Case("search-502-burst", [dict(kind="status", status=502, count=2, **SEARCH)], None),
    Case("search-503-storm", [dict(kind="status", status=503, count=STORM, **SEARCH)],
         ErrorCode.HUBSPOT_UNAVAILABLE, BUDGET, message=("503",), env=STORM_ENV),
    Case("batch-502-storm", [dict(kind="status", status=502, count=STORM, **UPDATE)],
         ErrorCode.HUBSPOT_UNAVAILABLE, BUDGET, ("batch_update", "2-197867933"), message=("502",), env=STORM_ENV),
    # Read timeouts: the answer comes after the client's deadline.
    Case("search-read-timeout-once", [dict(kind="delay", delay_seconds=TIMEOUT_SECONDS + 1.5, count=1, **SEARCH)], None),
    Case("search-read-timeout-storm", [dict(kind="delay", delay_seconds=1.0, count=STORM, **SEARCH)],
         ErrorCode.HUBSPOT_UNAVAILABLE, BUDGET, message=("Timeout",), env={**STORM_ENV, "HUBSPOT_TIMEOUT_SECONDS": "0.4"}),
    # Connection dropped mid-body (headers and half the body, then the socket closes).
    Case("search-drop-mid-body-burst", [dict(kind="drop", count=2, skip=1, **SEARCH)], None),
    Case("search-drop-mid-body-storm", [dict(kind="drop", count=STORM, **SEARCH)],
         ErrorCode.HUBSPOT_UNAVAILABLE, BUDGET, env=STORM_ENV),
    # A 200 whose JSON is cut short.
    Case("search-malformed-json-burst", [dict(kind="malformed", count=2, skip=1, **SEARCH)], None),
    Case("search-malformed-json-storm", [dict(kind="malformed", count=STORM, **SEARCH)],
         ErrorCode.HUBSPOT_UNAVAILABLE, BUDGET, message=("unreadable JSON",), env=STORM_ENV),
    # A page with paging.next and zero results: not the end of the data.
    Case("search-empty-page-with-next", [dict(kind="empty_page", count=3, skip=1, **SEARCH)], None),
    Case("search-empty-pages-forever", [dict(kind="empty_page", count=STORM, skip=1, **SEARCH)],
         ErrorCode.HUBSPOT_UNAVAILABLE, 1 + TASK_ATTEMPTS * (MAX_STALLED_PAGES + 1), message=("brought no new record",)),
    # 401 and 403 are never retried, by the client or by the task.
    Case("search-401", [dict(kind="status", status=401, count=STORM, **SEARCH)],
         ErrorCode.HUBSPOT_AUTH, 1, message=("401", "HUBSPOT_API_TOKEN")),
    Case("batch-update-401-token-revoked-mid-run", [dict(kind="status", status=401, count=STORM, **UPDATE)],
         ErrorCode.HUBSPOT_AUTH, 1, ("batch_update", "2-197867933"), message=("401",)),
    Case("deals-403-missing-scope", [dict(kind="status", status=403, missing_scope="crm.objects.deals.read",
                                          count=STORM, endpoint="search", object_type="deals")],
         ErrorCode.HUBSPOT_AUTH, 1, ("search", "deals"), message=("crm.objects.deals.read",)),
    # HubSpot echoing the token in an error body: redacted everywhere (the leak guard checks).
    Case("search-503-body-echoes-token", [dict(kind="status", status=503, body=TOKEN_ECHO, count=2, **SEARCH)], None),
    Case("search-400-body-echoes-token", [dict(kind="status", status=400, body=TOKEN_ECHO, count=STORM, **SEARCH)],
         ErrorCode.UNEXPECTED, 1, message=("400", "***")),  # a 4xx is retried neither by client nor task
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault(world: World, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in case.env.items():
        monkeypatch.setenv(name, value)
    if case.limits:
        world.sim.set_rate_limits(True, **case.limits)
    for fault in case.faults:
        world.sim.inject(**fault)

    state = world.run_flow()

    seen = world.sim.stats.count(*case.endpoint)
    figures = {"requests_on_endpoint": seen, "seconds": round(world.last_elapsed, 2),
               "faults_fired": sum(world.sim.stats.snapshot()["faults_triggered"].values()),
               "outcome": state.name, "code": None if state.is_completed() else str(error_code_of(state.result(raise_on_failure=False)))}
    record_figures("faults", case.id, figures)
    if case.outcome is None:
        assert state.is_completed(), state.message
        world.assert_correct()
        assert world.mails() == []
        injected = sum(f.get("count", 1) for f in case.faults)
        assert figures["faults_fired"] == injected, "not every injected fault fired"
        return

    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert error_code_of(error) is case.outcome, repr(error)
    for text in case.message:
        assert text in str(error), str(error)
    world.assert_untouched()
    # Bounded: exactly the retry budget reached HubSpot, then the run stopped.
    assert seen == case.attempts, f"{seen} requests on {case.endpoint}, budget {case.attempts}"
    # ... within the computed worst case of that many attempts.
    client = HubSpotClient.from_settings(load_settings())
    assert world.last_elapsed < TASK_ATTEMPTS * client.worst_case_seconds() + 2 * sum([0.2, 0.4])
    client.close()
    [mail] = world.mails()
    assert f"Error code: {case.outcome.value}" in mail.text


def test_207_partial_batch_writes_cache_and_registry_then_fails_hubspot_rejected(world: World) -> None:
    """DECISIONS.md: the registry and the cache are right, so they are written; HubSpot lags, ops are alerted."""
    world.sim.inject(kind="partial_batch", endpoint="batch_update", fail_count=2, error_category="VALIDATION_ERROR")
    state = world.run_flow()
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert error_code_of(error) is ErrorCode.HUBSPOT_REJECTED
    world.assert_correct()  # cache and registry: exactly what a clean run writes
    refused = [line for line in str(error).splitlines() if "AP-" in line] or [str(error)]
    assert sum(text.count("AP-") for text in refused) >= 2, str(error)
    assert world.sim.stats.count("batch_update") == 1  # a 207 is an answer, not retried
    record_figures("faults", "batch-update-207-partial", {"seconds": round(world.last_elapsed, 2), "code": "hubspot_rejected",
                                                          "requests_on_endpoint": 1, "outcome": state.name})
    [mail] = world.mails()
    assert "Error code: hubspot_rejected" in mail.text


def _attribution(cache: dict[str, Any], kind: str) -> dict[str, str]:
    owners: dict[str, str] = {}
    for pid, records in cache[kind].items():
        for record in records:
            assert record["id"] not in owners, f"{kind} {record['id']} attributed twice"
            owners[record["id"]] = pid
    return owners


def test_records_reassigned_between_pages_are_attributed_exactly_once(world: World) -> None:
    """Sales move a partner's contacts to another partner while the scan pages through them.

    The scan is sorted by hs_object_id and de-duplicated by id, and reassigning keeps the
    result set (HAS_PROPERTY) the same, so no record is skipped or read twice. Each record is
    attributed exactly once, to the owner it had when its page was read: records on pages
    already read keep their initial owner, the rest go to the final owner. The next run
    attributes all of them to the final owner.
    """
    contacts = world.sim.store.dump("contacts")
    owners = defaultdict(list)
    for record in contacts:
        owners[str(record["properties"].get("affiliate_partner_id") or "").strip().upper()].append(record["id"])
    active = world.dataset.active_partner_ids()
    first_page_ids = [r["id"] for r in contacts if r["properties"].get("affiliate_partner_id")][:200]
    # A partner with contacts on the first page and later pages, moved to another active partner.
    source = max((p for p in active if set(owners[p]) & set(first_page_ids) and set(owners[p]) - set(first_page_ids)),
                 key=lambda p: len(owners[p]))
    target = next(p for p in active if p != source)
    moved = set(owners[source])
    world.sim.inject(kind="reassign", endpoint="search", object_type="contacts", skip=1,
                     reassign_from=source, reassign_to=target)

    state = world.run_flow()
    assert state.is_completed(), state.message
    cache = read_cache(world.cache_path)
    attributed = _attribution(cache, "leads")
    expected_ids = {rid for pid in active for rid in owners[pid]}
    assert set(attributed) == expected_ids  # none lost, none invented
    early = moved & set(first_page_ids)
    late = moved - early
    assert early and late
    assert {attributed[rid] for rid in early} == {source}  # read before the move: initial owner
    assert {attributed[rid] for rid in late} == {target}  # read after the move: final owner
    assert cache["partners"][source]["contact_count"] == len(cache["leads"][source])
    record_figures("faults", "reassigned-between-pages", {"moved": len(moved), "kept_initial_owner": len(early),
                                                          "went_to_final_owner": len(late), "attributed_twice": 0,
                                                          "lost": 0, "seconds": round(world.last_elapsed, 2)})

    state = world.run_flow()  # the next run sees the final owners only
    assert state.is_completed(), state.message
    attributed = _attribution(read_cache(world.cache_path), "leads")
    assert {attributed[rid] for rid in moved} == {target}


def test_baseline_agrees_with_an_independent_oracle(world: World) -> None:
    """The baseline the other cases compare to is itself right: every active partner's leads and
    deals are exactly HubSpot's records naming that partner (ids trimmed, any case)."""
    cache = world.baseline.cache
    active = set(world.dataset.active_partner_ids())
    assert set(cache["partners"]) == set(cache["leads"]) == set(cache["deals"]) == active
    for kind, object_type in (("leads", "contacts"), ("deals", "deals")):
        expected: dict[str, set[str]] = defaultdict(set)
        for record in world.sim.store.dump(object_type):
            pid = str(record["properties"].get("affiliate_partner_id") or "").strip().upper()
            if pid in active:
                expected[pid].add(record["id"])
        for pid in active:
            assert {r["id"] for r in cache[kind][pid]} == expected[pid], (kind, pid)
    assert without_last_sync(cache)  # non-empty


@pytest.mark.slow
def test_partner_with_more_than_10000_contacts_is_cached_completely(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HubSpot's search stops at 10,000 results per query; the client slices by hs_object_id."""
    from affiliate_sync.simulator import SimulatorServer, generate, write_registry

    dataset = generate(seed=5, n_active=3, n_inactive=0, n_pending=0, contacts_attributed=30,
                       contacts_unattributed=0, deals=12, big_partner_contacts=10_150)
    with SimulatorServer(token=TOKEN, rate_limits=False, dataset=dataset) as sim:
        prepare(sim)
        write_registry(world.registry_path, dataset)
        world.cache_path.unlink()
        monkeypatch.setenv("HUBSPOT_BASE_URL", sim.url)
        monkeypatch.setenv("HUBSPOT_SEARCH_REQUESTS_PER_SECOND", "50")
        state = world.run_flow()
        assert state.is_completed(), state.message
        cache = read_cache(world.cache_path)
        big = dataset.big_partner_id
        expected = {r["id"] for r in sim.store.dump("contacts")
                    if str(r["properties"].get("affiliate_partner_id") or "").strip().upper() == big}
        assert len(expected) > 10_000
        assert {r["id"] for r in cache["leads"][big]} == expected
        assert cache["partners"][big]["contact_count"] == len(expected)
        assert "400" not in sim.stats.snapshot()["statuses"]  # never paged into the cap
        record_figures("faults", "more-than-10000-contacts", {
            "partner_contacts": len(expected), "cached": len(cache["leads"][big]),
            "search_requests_contacts": sim.stats.count("search", "contacts"), "seconds": round(world.last_elapsed, 2)})
