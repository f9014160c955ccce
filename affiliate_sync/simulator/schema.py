"""Property definitions per object type, as HubSpot's properties API describes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from affiliate_sync.simulator.values import iso_now

PropertyType = Literal["string", "number", "date", "datetime", "enumeration", "bool"]

NUMERIC_TYPES: frozenset[str] = frozenset({"number"})
DATE_TYPES: frozenset[str] = frozenset({"date", "datetime"})
# Properties HubSpot maintains itself: always returned, never writable.
SYSTEM_PROPERTIES: tuple[str, ...] = ("hs_object_id", "createdate", "lastmodifieddate")
READ_ONLY: frozenset[str] = frozenset({"hs_object_id", "createdate", "lastmodifieddate", "hs_lastmodifieddate"})

_FIELD_TYPES: dict[str, str] = {
    "string": "text",
    "number": "number",
    "date": "date",
    "datetime": "date",
    "enumeration": "select",
    "bool": "booleancheckbox",
}


@dataclass
class PropertyDef:
    """One property: its type, its options (enumerations) and whether it is unique."""

    name: str
    type: PropertyType = "string"
    options: list[dict[str, Any]] = field(default_factory=list)
    unique: bool = False
    label: str = ""
    group_name: str = "affiliate"
    created_at: str = field(default_factory=iso_now)
    updated_at: str = field(default_factory=iso_now)

    @property
    def option_values(self) -> list[str]:
        return [str(option.get("value")) for option in self.options]

    def to_api(self) -> dict[str, Any]:
        """The body of `GET /crm/v3/properties/{type}/{name}`."""
        return {
            "name": self.name,
            "label": self.label or self.name.replace("_", " ").title(),
            "type": self.type,
            "fieldType": _FIELD_TYPES[self.type],
            "description": "",
            "groupName": self.group_name,
            "options": [dict(option) for option in self.options],
            "displayOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": self.unique,
            "hidden": False,
            "formField": True,
            "archived": False,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
        }


def options(*values: str) -> list[dict[str, Any]]:
    """Enumeration options in HubSpot's shape, labels title-cased."""
    return [
        {"label": value.title(), "value": value, "displayOrder": order, "hidden": False}
        for order, value in enumerate(values)
    ]


def _system() -> list[PropertyDef]:
    return [
        PropertyDef("hs_object_id", "number", unique=True, label="Record ID", group_name="system"),
        PropertyDef("createdate", "datetime", label="Create Date", group_name="system"),
        PropertyDef("lastmodifieddate", "datetime", label="Last Modified Date", group_name="system"),
        PropertyDef("hs_lastmodifieddate", "datetime", label="Last Modified Date", group_name="system"),
    ]


def contact_schema() -> list[PropertyDef]:
    """Contacts: the lead properties of SPEC §2."""
    return _system() + [
        PropertyDef("affiliate_partner_id"),
        PropertyDef("affiliate_referral_date", "date"),
        PropertyDef("email", unique=True, group_name="contactinformation"),
        PropertyDef("firstname", group_name="contactinformation"),
        PropertyDef("lastname", group_name="contactinformation"),
        PropertyDef("company", group_name="contactinformation"),
        PropertyDef(
            "lifecyclestage",
            "enumeration",
            options(
                "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                "opportunity", "customer", "evangelist", "other",
            ),
        ),
        PropertyDef(
            "hs_lead_status",
            "enumeration",
            options("NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING"),
        ),
        PropertyDef("source__c"),
        PropertyDef("utm_medium__c"),
        PropertyDef("utm_campaign__c"),
    ]


def deal_schema() -> list[PropertyDef]:
    """Deals: the customer properties of SPEC §2 (dealstage is free text: pipelines add numeric ids)."""
    return _system() + [
        PropertyDef("affiliate_partner_id"),
        PropertyDef("affiliate_mrr", "number"),
        PropertyDef("affiliate_subscription_status", "enumeration", options("active", "paused", "cancelled")),
        PropertyDef("dealname", group_name="dealinformation"),
        PropertyDef("dealstage", group_name="dealinformation"),
        PropertyDef("pipeline", group_name="dealinformation"),
        PropertyDef("closedate", "datetime", group_name="dealinformation"),
        PropertyDef("amount", "number", group_name="dealinformation"),
    ]


def partner_schema() -> list[PropertyDef]:
    """The affiliate partner custom object; `level` starts without `beginner`, as real portals do."""
    return _system() + [
        PropertyDef("partner_id", unique=True),
        PropertyDef("name"),
        PropertyDef("email"),
        PropertyDef("level", "enumeration", options("starter", "partner", "pro")),
        PropertyDef("mrr_share_percent", "number"),
        PropertyDef("status", "enumeration", options("active", "inactive")),
        PropertyDef("registration_date", "date"),
    ]


def default_schema(canonical_type: str, partner_object_type: str) -> dict[str, PropertyDef]:
    """The initial property definitions of an object type (unknown types get the system ones)."""
    if canonical_type == "contacts":
        defs = contact_schema()
    elif canonical_type == "deals":
        defs = deal_schema()
    elif canonical_type == partner_object_type:
        defs = partner_schema()
    else:
        defs = _system()
    return {definition.name: definition for definition in defs}
