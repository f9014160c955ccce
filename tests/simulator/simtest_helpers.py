"""Helpers shared by the simulator tests (plain functions, imported by module name)."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

TOKEN = "sim-test-token"
PARTNER_TYPE = "2-197867933"
# httpx builds a certificate store per client unless handed one; sharing it saves ~0.1 s a test.
SSL_CONTEXT = ssl.create_default_context()


def http_client(base_url: str, token: str | None = TOKEN, timeout: float = 5.0) -> httpx.Client:
    """A plain httpx client for the simulator, with the bearer token unless `token` is None."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, verify=SSL_CONTEXT)


def contacts(*partner_ids: str | None, start: int = 1, **extra: Any) -> list[dict[str, Any]]:
    """Contact records with ids start.., one per partner id (None: no partner property)."""
    records = []
    for offset, partner_id in enumerate(partner_ids):
        props: dict[str, Any] = {"email": f"lead{start + offset}@example.com", **extra}
        if partner_id is not None:
            props["affiliate_partner_id"] = partner_id
        records.append({"id": str(start + offset), "properties": props})
    return records


def search_body(*filters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A search body with one filter group holding `filters`."""
    body: dict[str, Any] = dict(extra)
    if filters:
        body["filterGroups"] = [{"filters": list(filters)}]
    return body


def ids_of(response: httpx.Response) -> list[str]:
    return [result["id"] for result in response.json()["results"]]
