"""In-memory CRM records per object type, indexed for fast search and `idProperty` lookups."""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from affiliate_sync.settings import DEFAULT_PARTNER_OBJECT_TYPE
from affiliate_sync.simulator.schema import (
    DATE_TYPES,
    NUMERIC_TYPES,
    READ_ONLY,
    SYSTEM_PROPERTIES,
    PropertyDef,
    default_schema,
)
from affiliate_sync.simulator.values import (
    iso_now,
    normalize_timestamp,
    parse_epoch_ms,
    parse_number,
    to_hubspot_string,
)

_ALIASES: dict[str, str] = {"contact": "contacts", "0-1": "contacts", "deal": "deals", "0-3": "deals"}
_PARTNER_ALIASES: tuple[str, ...] = ("affiliate_partner", "affiliate_partners", "p_affiliate_partner")


class Record:
    """One CRM object: a numeric id and string-valued properties."""

    __slots__ = ("id", "properties", "created_at", "updated_at")

    def __init__(self, record_id: int, properties: dict[str, str | None], created_at: str, updated_at: str) -> None:
        self.id = record_id
        self.properties = properties
        self.created_at = created_at
        self.updated_at = updated_at

    def to_api(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """HubSpot's record shape with the requested properties plus the system ones."""
        wanted = list(names or ()) + [name for name in SYSTEM_PROPERTIES if name not in (names or ())]
        props = self.properties
        return {
            "id": str(self.id),
            "properties": {name: props.get(name) for name in wanted},
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": False,
        }

    def to_dump(self) -> dict[str, Any]:
        """Every stored property, for the control API's state dump."""
        return {
            "id": str(self.id),
            "properties": dict(self.properties),
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": False,
        }


@dataclass(frozen=True)
class PropertyError:
    """Why one property value was refused on write."""

    name: str
    code: str
    message: str
    allowed: tuple[str, ...] = ()


class ObjectTable:
    """The records of one object type: by id, as a sorted id list, and with lazy value indexes."""

    def __init__(self, object_type: str, schema: dict[str, PropertyDef]) -> None:
        self.object_type = object_type
        self.schema = schema
        self.records: dict[int, Record] = {}
        self.ids: list[int] = []
        self.next_id = 1
        # property -> lower-cased value -> ids; built on first use, kept current on writes.
        self._folded: dict[str, dict[str, set[int]]] = {}
        # property -> exact value -> ids; serves idProperty lookups.
        self._exact: dict[str, dict[str, set[int]]] = {}

    def __len__(self) -> int:
        return len(self.records)

    def kind(self, name: str) -> str:
        """The comparison family of a property: `number`, `date` or `string`."""
        definition = self.schema.get(name)
        if definition is None:
            return "string"
        if definition.type in NUMERIC_TYPES:
            return "number"
        if definition.type in DATE_TYPES:
            return "date"
        return "string"

    def insert(self, properties: Mapping[str, str | None], record_id: int | None = None, now: str | None = None) -> Record:
        """Add a record (id given or next free); system properties are filled in."""
        if record_id is None:
            record_id = self.next_id
        if record_id in self.records:
            raise ValueError(f"duplicate {self.object_type} id {record_id}")
        props = dict(properties)
        now = now or iso_now()
        created = normalize_timestamp(props.get("createdate")) or now
        props["hs_object_id"] = str(record_id)
        props.setdefault("createdate", created)
        props.setdefault("lastmodifieddate", props.get("hs_lastmodifieddate") or created)
        updated = normalize_timestamp(props.get("lastmodifieddate")) or created
        record = Record(record_id, props, created, updated)
        self.records[record_id] = record
        if not self.ids or record_id > self.ids[-1]:
            self.ids.append(record_id)
        else:
            bisect.insort(self.ids, record_id)
        self.next_id = max(self.next_id, record_id + 1)
        for name, index in self._folded.items():
            _index_add(index, _folded_key(props.get(name)), record_id)
        for name, index in self._exact.items():
            _index_add(index, props.get(name), record_id)
        return record

    def apply(self, record: Record, changes: Mapping[str, str | None], stamp: str) -> None:
        """Write already-validated values and keep the indexes current."""
        for name, value in changes.items():
            old = record.properties.get(name)
            if name in self._folded:
                _index_move(self._folded[name], _folded_key(old), _folded_key(value), record.id)
            if name in self._exact:
                _index_move(self._exact[name], old, value, record.id)
            record.properties[name] = value
        record.properties["lastmodifieddate"] = stamp
        record.properties["hs_lastmodifieddate"] = stamp
        record.updated_at = stamp

    def folded_ids(self, name: str, key: str) -> set[int]:
        """Ids whose value of `name`, lower-cased, equals `key` (an index, built on first use)."""
        index = self._folded.get(name)
        if index is None:
            index = {}
            for record in self.records.values():
                _index_add(index, _folded_key(record.properties.get(name)), record.id)
            self._folded[name] = index
        return index.get(key, set())

    def exact_ids(self, name: str, value: str) -> set[int]:
        """Ids whose value of `name` is exactly `value` (what `idProperty` matches on)."""
        if name == "hs_object_id":
            number = _as_int(value)
            return {number} if number is not None and number in self.records else set()
        index = self._exact.get(name)
        if index is None:
            index = {}
            for record in self.records.values():
                _index_add(index, record.properties.get(name), record.id)
            self._exact[name] = index
        return index.get(value, set())

    def id_range(self, low: int | None, high: int | None) -> list[int]:
        """Sorted ids with low <= id <= high (either bound optional)."""
        start = 0 if low is None else bisect.bisect_left(self.ids, low)
        stop = len(self.ids) if high is None else bisect.bisect_right(self.ids, high)
        return self.ids[start:stop]

    def __iter__(self) -> Iterator[Record]:
        for record_id in self.ids:
            yield self.records[record_id]


class Store:
    """All object tables, their schemas and a version counter; guard access with `lock`."""

    def __init__(self, partner_object_type: str = DEFAULT_PARTNER_OBJECT_TYPE) -> None:
        self.partner_object_type = partner_object_type
        self.lock = threading.RLock()
        self.version = 0
        self._tables: dict[str, ObjectTable] = {}

    def canonical_type(self, object_type: str) -> str:
        """`contact`/`0-1` → `contacts`, `deal`/`0-3` → `deals`, partner aliases → the type id."""
        lowered = object_type.strip().lower()
        if lowered in _ALIASES:
            return _ALIASES[lowered]
        if lowered in _PARTNER_ALIASES:
            return self.partner_object_type
        return object_type.strip()

    def table(self, object_type: str) -> ObjectTable:
        """The table of a type, created (with its default schema) on first use."""
        canonical = self.canonical_type(object_type)
        with self.lock:
            table = self._tables.get(canonical)
            if table is None:
                table = ObjectTable(canonical, default_schema(canonical, self.partner_object_type))
                self._tables[canonical] = table
            return table

    def types(self) -> list[str]:
        with self.lock:
            return list(self._tables)

    def reset(self) -> None:
        """Drop every record and schema change."""
        with self.lock:
            self._tables.clear()
            self.version += 1

    def count(self, object_type: str) -> int:
        with self.lock:
            return len(self.table(object_type))

    def get(self, object_type: str, record_id: str | int) -> Record | None:
        number = _as_int(record_id)
        with self.lock:
            return None if number is None else self.table(object_type).records.get(number)

    def find(self, object_type: str, id_property: str | None, value: str) -> Record | None:
        """The record whose `id_property` (default the record id) is exactly `value`."""
        with self.lock:
            table = self.table(object_type)
            ids = table.exact_ids(id_property or "hs_object_id", value)
            return table.records[min(ids)] if ids else None

    def insert(self, object_type: str, properties: Mapping[str, object], record_id: str | int | None = None) -> Record:
        """Add one record; values are stored as HubSpot strings."""
        values = {name: to_hubspot_string(value) for name, value in properties.items()}
        with self.lock:
            record = self.table(object_type).insert(values, None if record_id is None else int(record_id))
            self.version += 1
            return record

    def load(self, objects: Mapping[str, Iterable[Mapping[str, Any]]], replace: bool = True) -> dict[str, int]:
        """Bulk-insert records given as `{"id"?, "properties"}` or flat property dicts."""
        counts: dict[str, int] = {}
        with self.lock:
            if replace:
                for object_type in objects:
                    canonical = self.canonical_type(object_type)
                    self._tables.pop(canonical, None)
            now = iso_now()
            for object_type, records in objects.items():
                table = self.table(object_type)
                for item in records:
                    nested = "properties" in item
                    props = item["properties"] if nested else item
                    values = {k: to_hubspot_string(v) for k, v in props.items()}
                    values.pop("hs_object_id", None)
                    record_id = item.get("id") if nested else None
                    table.insert(values, None if record_id is None else int(record_id), now)
                counts[table.object_type] = len(table)
            self.version += 1
        return counts

    def validate(self, object_type: str, changes: Mapping[str, object], strict: bool) -> tuple[dict[str, str | None], list[PropertyError]]:
        """Normalise values to strings and check them against the schema (options, numbers, dates)."""
        table = self.table(object_type)
        values: dict[str, str | None] = {}
        errors: list[PropertyError] = []
        for name, raw in changes.items():
            value = to_hubspot_string(raw)
            definition = table.schema.get(name)
            if name in READ_ONLY:
                errors.append(PropertyError(name, "READ_ONLY_VALUE", f"{name} is a read only property; its value cannot be set."))
                continue
            if definition is None:
                if strict:
                    errors.append(PropertyError(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'))
                    continue
                values[name] = value
                continue
            problem = _check_value(definition, value)
            if problem is not None:
                errors.append(problem)
                continue
            values[name] = value
        return values, errors

    def update(self, object_type: str, record: Record, values: Mapping[str, str | None]) -> Record:
        """Write validated values to a record (see `validate`)."""
        with self.lock:
            self.table(object_type).apply(record, values, iso_now())
            self.version += 1
            return record

    def reassign(self, object_type: str, prop: str, from_value: str, to_value: str, limit: int | None = None) -> list[str]:
        """Move up to `limit` records (lowest ids first) whose `prop` equals `from_value` (any case)."""
        with self.lock:
            table = self.table(object_type)
            ids = sorted(table.folded_ids(prop, from_value.lower()))
            chosen = ids if limit is None else ids[:limit]
            stamp = iso_now()
            for record_id in chosen:
                table.apply(table.records[record_id], {prop: to_value}, stamp)
            self.version += 1
            return [str(record_id) for record_id in chosen]

    def property(self, object_type: str, name: str) -> PropertyDef | None:
        with self.lock:
            return self.table(object_type).schema.get(name)

    def set_property(self, object_type: str, definition: PropertyDef) -> None:
        with self.lock:
            self.table(object_type).schema[definition.name] = definition
            self.version += 1

    def dump(self, object_type: str) -> list[dict[str, Any]]:
        """Every record of a type with all its properties, ids ascending."""
        with self.lock:
            return [record.to_dump() for record in self.table(object_type)]


def _check_value(definition: PropertyDef, value: str | None) -> PropertyError | None:
    if value is None or value == "":
        return None
    if definition.type == "enumeration" and value not in definition.option_values:
        allowed = tuple(definition.option_values)
        return PropertyError(
            definition.name,
            "INVALID_OPTION",
            f"{value} was not one of the allowed options: {', '.join(allowed)}",
            allowed,
        )
    if definition.type in NUMERIC_TYPES and parse_number(value) is None:
        return PropertyError(definition.name, "INVALID_FLOAT", f"{value!r} is not a valid number")
    if definition.type in DATE_TYPES and parse_epoch_ms(value) is None:
        return PropertyError(definition.name, "INVALID_DATE", f"{value!r} is not a valid date")
    return None


def _folded_key(value: str | None) -> str | None:
    return None if value is None else value.lower()


def _index_add(index: dict[str, set[int]], key: str | None, record_id: int) -> None:
    if key is not None:
        index.setdefault(key, set()).add(record_id)


def _index_move(index: dict[str, set[int]], old: str | None, new: str | None, record_id: int) -> None:
    if old is not None and old in index:
        index[old].discard(record_id)
        if not index[old]:
            del index[old]
    _index_add(index, new, record_id)


def _as_int(value: str | int) -> int | None:
    if isinstance(value, int):
        return value
    text = value.strip()
    return int(text) if text.isdigit() else None
