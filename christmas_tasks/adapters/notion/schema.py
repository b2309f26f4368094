"""The Notion workspace's schema (SPEC §7), as data, in one place.

The Notion stores read and write these property names; `check_schema` names every property of a data source that
is missing or of the wrong type. Pure: it imports only the ledger's size and the engagement kinds from the domain,
and does no I/O (`christmas_tasks.adapters.notion.workspace` runs the check on a live workspace: `christmas-tasks
notion check`).

A property is described by its Notion type name, or by a `Relation` (to another of the four databases) or a
`Rollup` (of a related database's property), which are checked for what they point at as well: the shapes of
notion-sdk-js's `RelationDatabasePropertyConfigResponse` and `RollupDatabasePropertyConfigResponse`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from christmas_tasks.domain.records import LEDGER_NUMBERS
from christmas_tasks.domain.vocabulary import Engagement

NOTION_VERSION = "2025-09-03"
# Notion's request limits (developers.notion.com/reference/request-limits, and the query guide for the last):
RICH_TEXT_LIMIT = 2000  # characters in one rich-text segment
RICH_TEXT_SEGMENTS = 100  # segments in one rich-text property value
EMAIL_LIMIT = 200  # characters in an email property
URL_LIMIT = 2000  # characters in a url property ("any URL")
SELECT_NAME_LIMIT = 100  # characters in a select option's name (which may not hold a comma)
REQUEST_BODY_LIMIT = 500_000  # bytes in one request body ("500KB overall")
QUERY_RESULT_LIMIT = 10_000  # results one query returns; past it, request_status says "incomplete"


class Contacts:
    EMAIL = "email"
    FIRST_NAME = "first_name"
    BUSINESS_NAME = "Business Name"
    ASSESSMENT_SCORE = "Assessment Score"
    SEGMENT = "Segment"
    CAMPAIGN_STATUS = "Christmas Campaign Status"
    BOOKING_STATUS = "Booking Status"
    EMAIL_STATUS = "Email Status"
    TIMEZONE = "Timezone"
    BOOKED_CALL = "Booked Call"
    BOOKED_AT = "Booked At"  # when the call booked last was booked


class Sequences:
    FIRST_NAME = "First Name"
    EMAIL = "Email"
    BUSINESS_NAME = "Business Name"
    CAMPAIGN = "Campaign"
    SEQUENCE_TYPE = "Sequence Type"
    SEQUENCE_KEY = "Sequence Key"
    EVENT_ID = "Event ID"
    SEGMENT = "Segment"
    ANCHOR_AT = "Anchor At"
    EVENT_DATA = "Event Data"
    ASSESSMENT_SCORE = "Assessment Score"
    RED = "Red Systems"
    ORANGE = "Orange Systems"
    YELLOW = "Yellow Systems"
    GREEN = "Green Systems"
    LAST_EMAIL_SENT = "Last Email Sent"
    LAST_EMAIL_SENT_AT = "Last Email Sent At"
    COMPLETED = "Sequence Completed"
    STOPPED_REASON = "Stopped Reason"
    # The contact, and its statuses read through that relation: a send reads them with the record, in one query.
    CONTACT = "Contact"
    CONTACT_EMAIL_STATUS = "Contact Email Status"
    CONTACT_BOOKING_STATUS = "Contact Booking Status"

    @staticmethod
    def sent(n: int) -> str:
        return f"Email {n} Sent"

    @staticmethod
    def status(n: int) -> str:
        return f"Email {n} Status"

    @staticmethod
    def resend_id(n: int) -> str:
        return f"Email {n} Resend ID"

    @staticmethod
    def sent_by(n: int) -> str:
        return f"Email {n} Sent By"

    # An email's engagement (SPEC §9): the first time of each kind (a date each), and the first link clicked (a url).
    @staticmethod
    def engaged(n: int, kind: Engagement) -> str:
        return f"Email {n} {ENGAGED[kind]}"

    @staticmethod
    def link(n: int) -> str:
        return f"Email {n} Link"


# What each engagement kind is called in its property's name: `Email {n} Delivered`, ...
ENGAGED = {
    Engagement.DELIVERED: "Delivered",
    Engagement.DELIVERY_DELAYED: "Delayed",
    Engagement.OPENED: "Opened",
    Engagement.CLICKED: "Clicked",
}


class CampaignStatePage:
    """The campaign's state (paused or running): one page of the email sequence database that is no sequence
    (christmas_tasks/adapters/notion/campaigns.py). It is written with these properties of that database (checked
    there by SCHEMA) and none other: no Email, Campaign or Sequence Type, so no lookup of records and no report finds
    it. Its Sequence Key is `<campaign slug>|campaign-state`."""

    TITLE = Sequences.FIRST_NAME  # what the state is, for a person
    KEY = Sequences.SEQUENCE_KEY
    DATA = Sequences.EVENT_DATA  # the state as JSON: what the package reads
    PROPERTIES = (TITLE, KEY, DATA)
    KEY_SUFFIX = "campaign-state"


class Templates:
    NAME = "Template Name"
    SUBJECT = "Subject Line"
    BODY = "Email Body HTML"
    STATUS = "Status"


class Analytics:
    TEMPLATE = "Template ID"
    EMAIL = "Email"
    EMAIL_NUMBER = "Email Number"
    STATUS = "Status"
    SENT_DATE = "Sent Date"
    CAMPAIGN = "Campaign"
    RESEND_ID = "Resend Email ID"
    ERROR = "Error Message"


def _ledger() -> dict[str, str]:
    columns: dict[str, str] = {}
    for n in LEDGER_NUMBERS:
        columns[Sequences.sent(n)] = "date"
        columns[Sequences.status(n)] = "select"
        columns[Sequences.resend_id(n)] = "rich_text"
        columns[Sequences.sent_by(n)] = "select"
        for kind in Engagement:
            columns[Sequences.engaged(n, kind)] = "date"
        columns[Sequences.link(n)] = "url"
    return columns


@dataclass(frozen=True)
class Relation:
    """A relation property to the pages of the database of kind `to` (Notion writes it as `[{"id": ...}]`, at most
    100 pages, and returns at most 25 of them in a page or a query result, with `has_more`)."""

    to: str
    type: ClassVar[str] = "relation"


@dataclass(frozen=True)
class Rollup:
    """A rollup property: `function` over the `property` of the pages related through the relation property
    `relation`. Read-only; in a page or a query result Notion computes it over at most 25 related pages."""

    relation: str
    property: str
    function: str = "show_original"
    type: ClassVar[str] = "rollup"


PropertySpec = str | Relation | Rollup


def type_of(spec: PropertySpec) -> str:
    """The Notion type name of a property spec."""
    return spec if isinstance(spec, str) else spec.type


# kind -> {property name: its Notion type, or a Relation / Rollup}
SCHEMA: dict[str, dict[str, PropertySpec]] = {
    "contacts": {
        Contacts.EMAIL: "email",
        Contacts.FIRST_NAME: "title",
        Contacts.BUSINESS_NAME: "rich_text",
        Contacts.ASSESSMENT_SCORE: "number",
        Contacts.SEGMENT: "select",
        Contacts.CAMPAIGN_STATUS: "select",
        Contacts.BOOKING_STATUS: "select",
        Contacts.EMAIL_STATUS: "select",
        Contacts.TIMEZONE: "rich_text",
        Contacts.BOOKED_CALL: "rich_text",
        Contacts.BOOKED_AT: "date",
    },
    "sequences": {
        Sequences.FIRST_NAME: "title",
        Sequences.EMAIL: "email",
        Sequences.BUSINESS_NAME: "rich_text",
        Sequences.CAMPAIGN: "select",
        Sequences.SEQUENCE_TYPE: "select",
        Sequences.SEQUENCE_KEY: "rich_text",
        Sequences.EVENT_ID: "rich_text",
        Sequences.SEGMENT: "select",
        Sequences.ANCHOR_AT: "date",
        Sequences.EVENT_DATA: "rich_text",
        Sequences.ASSESSMENT_SCORE: "number",
        Sequences.RED: "number",
        Sequences.ORANGE: "number",
        Sequences.YELLOW: "number",
        Sequences.GREEN: "number",
        **_ledger(),
        Sequences.LAST_EMAIL_SENT: "number",
        Sequences.LAST_EMAIL_SENT_AT: "date",
        Sequences.COMPLETED: "checkbox",
        Sequences.STOPPED_REASON: "select",
        Sequences.CONTACT: Relation(to="contacts"),
        Sequences.CONTACT_EMAIL_STATUS: Rollup(relation=Sequences.CONTACT, property=Contacts.EMAIL_STATUS),
        Sequences.CONTACT_BOOKING_STATUS: Rollup(relation=Sequences.CONTACT, property=Contacts.BOOKING_STATUS),
    },
    "templates": {
        Templates.NAME: "title",
        Templates.SUBJECT: "rich_text",
        Templates.BODY: "rich_text",
        Templates.STATUS: "select",
    },
    "analytics": {
        Analytics.TEMPLATE: "title",
        Analytics.EMAIL: "email",
        Analytics.EMAIL_NUMBER: "number",
        Analytics.STATUS: "select",
        Analytics.SENT_DATE: "date",
        Analytics.CAMPAIGN: "select",
        Analytics.RESEND_ID: "rich_text",
        Analytics.ERROR: "rich_text",
    },
}

KINDS = tuple(SCHEMA)
# The setting that holds each database's id, and what each database is called in messages.
SETTING = {
    "contacts": "NOTION_CONTACTS_DB_ID",
    "sequences": "NOTION_EMAIL_SEQUENCE_DB_ID",
    "templates": "NOTION_EMAIL_TEMPLATES_DB_ID",
    "analytics": "NOTION_EMAIL_ANALYTICS_DB_ID",
}
LABEL = {
    "contacts": "contacts database",
    "sequences": "email sequence database",
    "templates": "email templates database",
    "analytics": "email analytics database",
}
OPTIONAL = frozenset({"analytics"})


def check_schema(
    kind: str,
    properties: Mapping[str, Any],
    *,
    schema: Mapping[str, PropertySpec] | None = None,
    data_sources: Mapping[str, str] | None = None,
) -> list[str]:
    """Every property of `kind` (or of `schema`) that `properties` (a data source's `properties`) lacks or
    mistypes; a relation to another data source than `data_sources[to]`, a rollup of another property.

    One line per problem, naming the property and what was expected; an empty list means the data
    source has everything the package reads and writes (extra properties are fine).
    """
    if kind not in SCHEMA:
        raise ValueError(f"unknown Notion database kind {kind!r}; one of {', '.join(KINDS)}")
    by_folded = {name.casefold(): name for name in properties}
    problems = []
    for name, spec in (SCHEMA[kind] if schema is None else schema).items():
        expected = type_of(spec)
        prop = properties.get(name)
        if prop is None:
            line = f"{name!r}: missing (expected a property of type {expected})"
            near = by_folded.get(name.casefold())
            if near is not None:
                line += f"; found {near!r}, but property names are case-sensitive"
            problems.append(line)
            continue
        actual = prop.get("type") if isinstance(prop, Mapping) else None
        if actual != expected:
            problems.append(f"{name!r}: is of type {actual}, expected {expected}")
            continue
        config = prop.get(expected) if isinstance(prop.get(expected), Mapping) else {}
        if isinstance(spec, Relation):
            wanted = (data_sources or {}).get(spec.to)
            if wanted is not None and config.get("data_source_id") != wanted:
                problems.append(
                    f"{name!r}: relates to data source {config.get('data_source_id')}, expected the {LABEL[spec.to]}'s"
                    f" ({wanted})"
                )
        elif isinstance(spec, Rollup):
            found = (config.get("relation_property_name"), config.get("rollup_property_name"), config.get("function"))
            if found != (spec.relation, spec.property, spec.function):
                problems.append(
                    f"{name!r}: rolls up {found[1]!r} through {found[0]!r} with {found[2]}, expected {spec.property!r}"
                    f" through {spec.relation!r} with {spec.function}"
                )
    return problems
