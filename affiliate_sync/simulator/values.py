"""Parsing of HubSpot's string-typed values: numbers, dates and search tokens."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HUBSPOT_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_HUBSPOT_S = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_TOKEN_SPLIT = re.compile(r"[^0-9a-z\u00c0-\uffff]+")


def parse_number(value: str | None) -> float | None:
    """The float a HubSpot number string holds, or None when empty or unparsable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def parse_epoch_ms(value: str | None) -> int | None:
    """Milliseconds since the epoch for an epoch-ms string, ISO date or ISO datetime."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        if _DATE_ONLY.match(text):
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(parsed.timestamp() * 1000)


def tokens(value: str) -> list[str]:
    """Lower-cased word tokens, the unit CONTAINS_TOKEN matches on."""
    return [token for token in _TOKEN_SPLIT.split(value.lower()) if token]


def to_hubspot_string(value: object) -> str | None:
    """A JSON value as HubSpot stores it: every property value is a string (or null)."""
    if type(value) is str or value is None:
        return value  # the common case on bulk loads, kept cheap
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def iso_now() -> str:
    """The current UTC time in HubSpot's millisecond ISO format."""
    return iso_from_datetime(datetime.now(UTC))


def iso_from_datetime(moment: datetime) -> str:
    """HubSpot's timestamp format: `2026-02-12T17:00:34.123Z`."""
    m = moment.astimezone(UTC)
    return f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond // 1000:03d}Z"


def normalize_timestamp(value: str | None) -> str | None:
    """A property's datetime as HubSpot's `createdAt` format, or None when unparsable."""
    if value is not None and _HUBSPOT_MS.match(value):
        return value
    if value is not None and _HUBSPOT_S.match(value):
        return value[:-1] + ".000Z"
    epoch = parse_epoch_ms(value)
    if epoch is None:
        return None
    return iso_from_datetime(datetime.fromtimestamp(epoch / 1000, UTC))
