"""What each kind of import takes: its columns, which are required, the header names that
map to them, and how a cell becomes a value. A cell parser raises ``CellError`` with the
reason shown in the preview."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.utils.dateparse import parse_datetime as _parse_iso_datetime

from accounts.models import INDUSTRIES, ContactLevel, ContactRole, LifecycleStage
from health.models import SurveyKind, TicketPriority

from .models import ImportKind
from .parsing import header_normalise


class CellError(ValueError):
    pass


def parse_text(max_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > max_length:
            raise CellError(f"longer than {max_length} characters")
        return value

    return parse


_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_decimal(value: str) -> Decimal:
    """``1234.5``, ``1,234.50``, ``$1234``; never negative (money and counts here)."""
    cleaned = value.replace(" ", "").replace("\u00a0", "").lstrip("$€£")
    if _THOUSANDS.match(cleaned):
        cleaned = cleaned.replace(",", "")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise CellError("not a number") from None
    if not number.is_finite():
        raise CellError("not a number")
    if number < 0:
        raise CellError("cannot be negative")
    if number >= Decimal("1e12"):
        raise CellError("too large")
    return number.quantize(Decimal("0.01"))


def parse_count(value: str) -> int:
    if value.isascii() and value.isdigit():  # the common case, without the Decimal round trip
        number = int(value)
        if number > 2_000_000_000:
            raise CellError("too large")
        return number
    number = parse_decimal(value)
    if number != number.to_integral_value():
        raise CellError("not a whole number")
    if number > 2_000_000_000:
        raise CellError("too large")
    return int(number)


def parse_date(value: str) -> dt.date:
    """ISO dates only (``2026-03-31``, or the date of an ISO timestamp): ``03/04/2026`` is
    April in one country and March in another, and a silent guess corrupts renewals."""
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise CellError("not a date; write dates as YYYY-MM-DD") from None


def parse_datetime(value: str) -> dt.datetime:
    """An ISO date and time (``2026-03-31T14:05:00Z``, ``2026-03-31 14:05``) or an ISO date
    (midnight); a time without an offset is UTC, as in the ingestion API."""
    try:
        parsed = _parse_iso_datetime(value) if len(value) > 10 else None
        if parsed is None:
            day = dt.date.fromisoformat(value)
            parsed = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    except ValueError:
        raise CellError(
            "not a date and time; write YYYY-MM-DD or YYYY-MM-DD HH:MM (UTC unless an offset follows)"
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise CellError("out of range") from None


def parse_choice(choices: dict[str, str], what: str) -> Callable[[str], str]:
    """Matches a choice's value or label, ignoring case and punctuation."""
    lookup = {}
    for value, label in choices.items():
        lookup[header_normalise(value)] = value
        lookup[header_normalise(label)] = value

    def parse(value: str) -> str:
        try:
            return lookup[header_normalise(value)]
        except KeyError:
            raise CellError(f"unknown {what}; use one of: {', '.join(choices.values())}") from None

    return parse


def parse_email(value: str) -> str:
    if "@" not in value or " " in value or len(value) > 254:
        raise CellError("not an e-mail address")
    return value.lower()


def parse_domain(value: str) -> str:
    """``https://www.Example.com/about`` is the domain ``example.com``."""
    domain = re.sub(r"^[a-z]+://", "", value.strip().lower()).split("/", 1)[0]
    domain = domain.removeprefix("www.")
    if not domain or " " in domain or "." not in domain or len(domain) > 200:
        raise CellError("not a domain like example.com")
    return domain


_parse_priority = parse_choice(dict(TicketPriority.choices), "priority")
PRIORITY_ALIASES = {"medium": TicketPriority.NORMAL, "normal": TicketPriority.NORMAL}


def parse_priority(value: str) -> str:
    """Low, Normal, High or Urgent (help desks' "Medium" is Normal)."""
    return PRIORITY_ALIASES.get(header_normalise(value)) or _parse_priority(value)


# References are resolved by the validator against the tenant's rows; their parser only trims.
REFERENCE = "reference"


@dataclass(frozen=True)
class Column:
    field: str
    label: str
    parse: Callable[[str], object] | str
    required: bool = False
    synonyms: tuple[str, ...] = ()
    why: str = ""  # why a required value is needed, added to the row error when it is blank

    def names(self) -> set[str]:
        return {header_normalise(name) for name in (self.field, self.label, *self.synonyms)}


ACCOUNT_REFERENCE_SYNONYMS = ("Account", "Account ID", "Account external ID", "Account domain", "Company", "Customer")

SPECS: dict[str, list[Column]] = {
    ImportKind.ACCOUNTS: [
        Column("external_id", "External id", parse_text(100), synonyms=("CRM ID", "Account ID", "ID", "Customer ID")),
        Column(
            "name",
            "Name",
            parse_text(200),
            required=True,
            synonyms=("Company", "Account", "Account Name", "Company Name", "Customer", "Customer Name"),
        ),
        Column("domain", "Domain", parse_domain, synonyms=("Website", "Web site", "URL", "Company domain")),
        Column(
            "industry",
            "Industry",
            parse_choice({name: name for name in INDUSTRIES}, "industry"),
            synonyms=("Sector", "Vertical"),
        ),
        Column(
            "employee_count", "Employees", parse_count, synonyms=("Employee count", "Headcount", "Number of employees")
        ),
        Column("segment", "Segment", REFERENCE, synonyms=("Tier", "Touch")),
        Column("owner", "Owner e-mail", REFERENCE, synonyms=("Owner", "CSM", "CSM e-mail", "Account owner")),
        Column(
            "lifecycle_stage",
            "Lifecycle stage",
            parse_choice(dict(LifecycleStage.choices), "lifecycle stage"),
            synonyms=("Stage", "Lifecycle"),
        ),
        Column("customer_since", "Customer since", parse_date, synonyms=("Since", "Customer start date")),
    ],
    ImportKind.CONTACTS: [
        Column("external_id", "External id", parse_text(100), synonyms=("Contact ID", "CRM ID", "ID")),
        Column("account", "Account", REFERENCE, required=True, synonyms=ACCOUNT_REFERENCE_SYNONYMS),
        Column("name", "Name", parse_text(150), required=True, synonyms=("Full name", "Contact name", "Contact")),
        Column("email", "E-mail", parse_email, synonyms=("Email address", "Mail", "Contact e-mail")),
        Column("title", "Title", parse_text(150), synonyms=("Job title", "Position")),
        Column("role", "Role", parse_choice(dict(ContactRole.choices), "role"), synonyms=("Contact role",)),
        Column("level", "Level", parse_choice(dict(ContactLevel.choices), "level"), synonyms=("Seniority",)),
    ],
    ImportKind.SUBSCRIPTION_LINES: [
        Column("account", "Account", REFERENCE, required=True, synonyms=ACCOUNT_REFERENCE_SYNONYMS),
        Column("product", "Product", REFERENCE, required=True, synonyms=("Plan", "SKU", "Product name")),
        Column(
            "arr",
            "ARR",
            parse_decimal,
            required=True,
            synonyms=("Annual value", "Annual recurring revenue", "ACV", "Annual contract value", "Amount"),
        ),
        Column("list_price_arr", "List price ARR", parse_decimal, synonyms=("List price", "List ARR")),
        Column("start_date", "Start date", parse_date, required=True, synonyms=("Start", "Term start", "From")),
        Column("end_date", "End date", parse_date, required=True, synonyms=("End", "Term end", "To", "Until")),
    ],
    ImportKind.USAGE_DAYS: [
        Column("account", "Account", REFERENCE, required=True, synonyms=ACCOUNT_REFERENCE_SYNONYMS),
        Column("day", "Day", parse_date, required=True, synonyms=("Date", "Usage date")),
        Column("active_users", "Active users", parse_count, required=True, synonyms=("Users", "DAU", "Active")),
        Column(
            "licensed_seats", "Licensed seats", parse_count, required=True, synonyms=("Seats", "Licenses", "Licences")
        ),
    ],
    ImportKind.INVOICES: [
        Column("account", "Account", REFERENCE, required=True, synonyms=ACCOUNT_REFERENCE_SYNONYMS),
        Column(
            "number",
            "Invoice number",
            parse_text(40),
            required=True,
            synonyms=("Number", "Invoice", "Invoice no", "Invoice ID"),
        ),
        Column("amount", "Amount", parse_decimal, required=True, synonyms=("Total", "Invoice amount", "Amount due")),
        Column(
            "issued_on",
            "Issued on",
            parse_date,
            required=True,
            synonyms=("Issued", "Issue date", "Invoice date", "Date"),
        ),
        Column("due_on", "Due on", parse_date, required=True, synonyms=("Due", "Due date")),
        Column("paid_on", "Paid on", parse_date, synonyms=("Paid", "Payment date", "Paid date")),
    ],
    ImportKind.SURVEY_RESPONSES: [
        Column(
            "external_id",
            "Response ID",
            parse_text(100),
            required=True,
            synonyms=("Response", "Survey response ID", "Response number", "External id", "ID"),
            why="importing the file again updates each response by its id, so every row needs one",
        ),
        Column("account", "Account", REFERENCE, required=True, synonyms=ACCOUNT_REFERENCE_SYNONYMS),
        Column(
            "contact",
            "Contact e-mail",
            REFERENCE,
            synonyms=("Contact", "E-mail", "Email", "Email address", "Respondent", "Respondent e-mail"),
        ),
        Column(
            "kind",
            "Survey",
            parse_choice(dict(SurveyKind.choices), "survey"),
            synonyms=("Survey type", "Type", "Kind", "Survey kind"),
        ),
        Column(
            "score", "Score", parse_count, required=True, synonyms=("NPS", "NPS score", "CSAT", "CSAT score", "Rating")
        ),
        Column(
            "responded_on",
            "Responded on",
            parse_date,
            required=True,
            synonyms=("Date", "Responded", "Response date", "Submitted", "Submitted at", "Answered"),
        ),
        Column("comment", "Comment", parse_text(5_000), synonyms=("Comments", "Feedback", "Verbatim", "Reason")),
    ],
    ImportKind.SUPPORT_TICKETS: [
        Column(
            "external_id",
            "Ticket ID",
            parse_text(100),
            required=True,
            synonyms=("Ticket number", "Ticket no", "Ticket", "Ticket #", "External id", "ID"),
            why="importing the file again updates each ticket by its id, so every row needs one",
        ),
        Column("account", "Account", REFERENCE, required=True, synonyms=ACCOUNT_REFERENCE_SYNONYMS),
        Column("subject", "Subject", parse_text(200), required=True, synonyms=("Title", "Summary", "Description")),
        Column("priority", "Priority", parse_priority, synonyms=("Ticket priority",)),
        Column(
            "opened_at",
            "Opened",
            parse_datetime,
            required=True,
            synonyms=("Opened at", "Created", "Created at", "Date opened", "Open date", "Submitted"),
        ),
        Column(
            "closed_at",
            "Closed",
            parse_datetime,
            synonyms=("Closed at", "Resolved", "Resolved at", "Solved", "Solved at", "Date closed", "Close date"),
        ),
    ],
}


def columns_of(kind: str) -> dict[str, Column]:
    return {column.field: column for column in SPECS[kind]}


def mapping_detect(kind: str, headers: list[str]) -> dict[str, str]:
    """``{column index: field}`` from the header names: exact field names and labels first,
    then synonyms; each field taken by one column at most."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    exact = {header_normalise(c.field): c.field for c in SPECS[kind]} | {
        header_normalise(c.label): c.field for c in SPECS[kind]
    }
    for index, header in enumerate(headers):
        field = exact.get(header_normalise(header))
        if field and field not in taken:
            mapping[str(index)] = field
            taken.add(field)
    for index, header in enumerate(headers):
        if str(index) in mapping:
            continue
        key = header_normalise(header)
        for column in SPECS[kind]:
            if column.field not in taken and key in column.names():
                mapping[str(index)] = column.field
                taken.add(column.field)
                break
    return mapping


def missing_required(kind: str, mapping: dict[str, str]) -> list[str]:
    mapped = set(mapping.values())
    return [column.label for column in SPECS[kind] if column.required and column.field not in mapped]
