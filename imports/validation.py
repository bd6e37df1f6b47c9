"""Checking every row of an import before anything is written: cells parsed, references
(account, segment, owner, product) resolved among the active tenant's rows only, each row
matched to the row it updates, duplicates within the file refused. The result is a plan of
finished rows for ``imports.writing``, or the list of errors for the preview."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models.functions import Lower

from accounts.models import Account, Contact, Segment
from csplatform.models import Membership, Tenant
from health.models import Invoice, SupportTicket, SurveyKind, SurveyResponse, UsageDay
from renewals.models import Product, SubscriptionLine

from .models import ImportKind
from .parsing import header_normalise, rows_iterate
from .specs import REFERENCE, CellError, columns_of

PROGRESS_EVERY = 2_000
RAW = "__raw__"  # the row's cells as written, for messages


@dataclass
class RowError:
    row: int
    column: str
    value: str
    reason: str

    def as_list(self) -> list:
        return [self.row, self.column, self.value, self.reason]


@dataclass
class Plan:
    """Finished rows: ``fields`` are attnames; each row is ``(row number, existing id or None,
    values in the order of fields)``."""

    model: type
    fields: list[str]
    rows: list[tuple[int, int | None, tuple]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows_total: int = 0
    # Values new rows get for fields the file does not map (attname -> value).
    insert_defaults: dict = field(default_factory=dict)
    # Existing accounts whose segment the file cleared: back into their ARR band after the write.
    segment_reassign_ids: list[int] = field(default_factory=list)

    @property
    def to_create(self) -> int:
        return sum(1 for _, pk, _ in self.rows if pk is None)

    @property
    def to_update(self) -> int:
        return sum(1 for _, pk, _ in self.rows if pk is not None)


class AccountLookup:
    """An account named by a cell: its external id, else its domain, else its exact name
    (case ignored); a value that fits several accounts is refused, never guessed."""

    def __init__(self, tenant: Tenant):
        self.by_external_id: dict[str, int] = {}
        self.by_domain: dict[str, list[int]] = defaultdict(list)
        self.by_name: dict[str, list[int]] = defaultdict(list)
        self.external_id_of: dict[int, str] = {}
        # Segments of accounts placed by their ARR band (not pinned).
        self.band_segment_of: dict[int, int | None] = {}
        rows = Account.objects.filter(tenant=tenant).values_list(
            "pk", "external_id", Lower("domain"), Lower("name"), "segment_id", "segment_pinned"
        )
        for pk, external_id, domain, name, segment_id, pinned in rows.iterator(chunk_size=5_000):
            if not pinned:
                self.band_segment_of[pk] = segment_id
            if external_id:
                self.by_external_id[external_id] = pk
            self.external_id_of[pk] = external_id
            if domain:
                self.by_domain[domain].append(pk)
            self.by_name[name].append(pk)

    def resolve(self, value: str) -> int:
        if value in self.by_external_id:
            return self.by_external_id[value]
        key = value.lower()
        for what, index in (("domain", self.by_domain), ("name", self.by_name)):
            found = index.get(key, [])
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise CellError(f"{len(found)} accounts have this {what}; use the account's external id")
        raise CellError("unknown account (no account has this external id, domain or name)")


def _segments(tenant: Tenant) -> dict[str, int]:
    return {name.lower(): pk for pk, name in Segment.objects.filter(tenant=tenant).values_list("pk", "name")}


def _segment_of_zero_arr(tenant: Tenant) -> int | None:
    for segment in Segment.objects.filter(tenant=tenant).order_by("arr_min"):
        if segment.contains_arr(Decimal(0)):
            return segment.pk
    return None


def _owners(tenant: Tenant) -> dict[str, int]:
    members = Membership.objects.filter(tenant=tenant).values_list("user_id", "user__email")
    return {email.lower(): user_id for user_id, email in members}


def _products(tenant: Tenant) -> dict[str, int]:
    lookup = {}
    for pk, name, code in Product.objects.filter(tenant=tenant).values_list("pk", "name", "code"):
        lookup[name.lower()] = pk
        if code:
            lookup.setdefault(code.lower(), pk)
    return lookup


def _index(lookup: dict[str, int], what: str) -> Callable[[str], int]:
    def resolve(value: str) -> int:
        try:
            return lookup[value.lower()]
        except KeyError:
            raise CellError(f"unknown {what}") from None

    return resolve


class Validator:
    """One pass over the file. Subclasses say how references resolve and how a row is keyed
    and matched; the base class parses cells, collects errors and reports progress."""

    kind: str
    model: type
    key_label: str  # the "column" an error about the row's key names
    key_fields: tuple[str, ...]

    def __init__(self, *, tenant: Tenant, headers: list[str], mapping: dict[str, str]):
        self.tenant = tenant
        self.headers = headers
        self.columns = columns_of(self.kind)
        self.mapped = [(int(index), field) for index, field in mapping.items() if field in self.columns]
        self.mapped_fields = {field for _, field in self.mapped}
        self.references = self.reference_resolvers()
        self._empty = {}
        for name in self.columns:
            model_field = self.model._meta.get_field(name)
            self._empty[name] = None if model_field.null else model_field.get_default()

    def reference_resolvers(self) -> dict[str, Callable[[str], int]]:
        return {}

    def attname(self, field: str) -> str:
        return f"{field}_id" if field in self.references else field

    def run(self, *, text: str, delimiter: str, progress: Callable[[int], None] | None = None) -> Plan:
        fields = [self.attname(f) for f in self.columns if f in self.mapped_fields]
        plan = Plan(model=self.model, fields=fields)
        parsed: list[tuple[int, dict]] = []
        for count, (number, cells) in enumerate(rows_iterate(text, delimiter), start=1):
            values = self.row_parse(number, cells, plan.errors)
            if values is not None:
                parsed.append((number, values))
            if progress and count % PROGRESS_EVERY == 0:
                progress(count)
            plan.rows_total = count
        self.rows_match(parsed, plan)
        return plan

    def row_parse(self, number: int, cells: list[str], errors: list[RowError]) -> dict | None:
        values: dict = {}
        raw_cells: dict[str, str] = {}
        values[RAW] = raw_cells
        ok = True
        extra = [cell for cell in cells[len(self.headers) :] if cell.strip()]
        if extra:
            errors.append(
                RowError(number, "", extra[0], f"the row has {len(cells)} cells, the header names {len(self.headers)}")
            )
            ok = False
        for index, field_name in self.mapped:
            column = self.columns[field_name]
            raw = cells[index].strip() if index < len(cells) else ""
            raw_cells[field_name] = raw
            if not raw:
                if column.required:
                    reason = f"{column.label} is required" + (f": {column.why}" if column.why else "")
                    errors.append(RowError(number, self.headers[index], "", reason))
                    ok = False
                values[field_name] = None
                continue
            try:
                if column.parse == REFERENCE:
                    values[field_name] = self.references[field_name](raw)
                else:
                    values[field_name] = column.parse(raw)
            except CellError as error:
                errors.append(RowError(number, self.headers[index], raw, str(error)))
                ok = False
        if ok:
            ok = self.row_check(number, values, errors)
        return values if ok else None

    def row_check(self, number: int, values: dict, errors: list[RowError]) -> bool:
        return True

    def header_of(self, field_name: str) -> str:
        for index, mapped in self.mapped:
            if mapped == field_name:
                return self.headers[index]
        return self.columns[field_name].label

    def rows_match(self, parsed: list[tuple[int, dict]], plan: Plan) -> None:
        """Give each row the id it updates (or None), refusing two rows of the file that
        land on the same key."""
        existing = self.existing_ids([values for _, values in parsed])
        first_row: dict[tuple, int] = {}
        for number, values in parsed:
            try:
                key, pk = self.row_key(values, existing)
            except CellError as error:
                plan.errors.append(RowError(number, self.key_label, "", str(error)))
                continue
            earlier = first_row.get(key) or (first_row.get(("id", pk)) if pk is not None else None)
            if earlier:
                shown = ", ".join(values[RAW][f] for f in self.key_fields if values[RAW].get(f))
                plan.errors.append(RowError(number, self.key_label, shown, f"duplicate of row {earlier} in this file"))
                continue
            first_row[key] = number
            if pk is not None:
                first_row[("id", pk)] = number
            plan.rows.append((number, pk, self.row_values(values)))

    def row_values(self, values: dict) -> tuple:
        """The row's values in the order of the plan's fields; an empty cell clears the
        field: '' for text, None for the rest."""
        return tuple(
            self._empty[name] if values[name] is None else values[name]
            for name in self.columns
            if name in self.mapped_fields
        )

    def existing_ids(self, rows: list[dict]) -> dict:
        raise NotImplementedError

    def row_key(self, values: dict, existing: dict) -> tuple[tuple, int | None]:
        raise NotImplementedError


class AccountValidator(Validator):
    kind = ImportKind.ACCOUNTS
    model = Account
    key_label = "External id / Domain"
    key_fields = ("external_id", "domain")

    def reference_resolvers(self):
        return {
            "segment": _index(_segments(self.tenant), "segment (see Settings, Segments)"),
            "owner": _index(_owners(self.tenant), f"owner: no member of {self.tenant.name} has this e-mail"),
        }

    def run(self, **kwargs) -> Plan:
        plan = super().run(**kwargs)
        # A new account has no lines yet, so no ARR: it starts in the band that holds zero.
        zero_band = _segment_of_zero_arr(self.tenant)
        if "segment" not in self.mapped_fields:
            plan.insert_defaults = {"segment_id": zero_band}
            return plan
        # A segment given by the file is kept even when the ARR moves to another band; a blank
        # one puts the account back into its band.
        position = plan.fields.index("segment_id")
        plan.fields.append("segment_pinned")
        rows = []
        for number, pk, values in plan.rows:
            segment_id = values[position]
            if segment_id is None:
                if pk is None:
                    band_segment = zero_band
                elif pk in self.lookup.band_segment_of:
                    band_segment = self.lookup.band_segment_of[pk]  # already in its band: unchanged
                else:
                    band_segment = None  # was pinned: back into its band after the write
                    plan.segment_reassign_ids.append(pk)
                values = (*values[:position], band_segment, *values[position + 1 :])
            rows.append((number, pk, (*values, segment_id is not None)))
        plan.rows = rows
        return plan

    def existing_ids(self, rows):
        self.lookup = AccountLookup(self.tenant)
        return {"lookup": self.lookup}

    def row_key(self, values, existing):
        lookup: AccountLookup = existing["lookup"]
        external_id, domain = values.get("external_id"), values.get("domain")
        if external_id:
            pk = lookup.by_external_id.get(external_id)
            if pk is None and domain:
                unclaimed = [p for p in lookup.by_domain.get(domain, []) if not lookup.external_id_of[p]]
                if len(unclaimed) > 1:
                    raise CellError(f"{len(unclaimed)} accounts without an external id have the domain {domain}")
                pk = unclaimed[0] if unclaimed else None
            return ("external_id", external_id), pk
        if domain:
            found = lookup.by_domain.get(domain, [])
            if len(found) > 1:
                raise CellError(f"{len(found)} accounts have the domain {domain}; add an external id column")
            return ("domain", domain), (found[0] if found else None)
        raise CellError("needs an external id or a domain, so that importing the file again updates the account")


class ContactValidator(Validator):
    kind = ImportKind.CONTACTS
    model = Contact
    key_label = "External id / E-mail"
    key_fields = ("external_id", "email")

    def reference_resolvers(self):
        return {"account": AccountLookup(self.tenant).resolve}

    def existing_ids(self, rows):
        by_external_id, by_email = {}, defaultdict(list)
        contacts = Contact.objects.filter(tenant=self.tenant).values_list("pk", "external_id", Lower("email"))
        for pk, external_id, email in contacts.iterator(chunk_size=5_000):
            if external_id:
                by_external_id[external_id] = pk
            if email:
                by_email[email].append(pk)
        return {"external_id": by_external_id, "email": by_email}

    def row_key(self, values, existing):
        external_id, email = values.get("external_id"), values.get("email")
        if external_id:
            pk = existing["external_id"].get(external_id)
            if pk is None and email and len(existing["email"].get(email, [])) == 1:
                pk = existing["email"][email][0]
            return ("external_id", external_id), pk
        if email:
            found = existing["email"].get(email, [])
            if len(found) > 1:
                raise CellError(f"{len(found)} contacts have the e-mail {email}; add an external id column")
            return ("email", email), (found[0] if found else None)
        raise CellError("needs an external id or an e-mail, so that importing the file again updates the contact")


class SubscriptionLineValidator(Validator):
    kind = ImportKind.SUBSCRIPTION_LINES
    model = SubscriptionLine
    key_label = "Account, product, start date"
    key_fields = ("account", "product", "start_date")

    def reference_resolvers(self):
        return {
            "account": AccountLookup(self.tenant).resolve,
            "product": _index(_products(self.tenant), "product"),
        }

    def row_check(self, number, values, errors):
        if values["end_date"] < values["start_date"]:
            errors.append(
                RowError(number, self.header_of("end_date"), values["end_date"].isoformat(), "before the start date")
            )
            return False
        return True

    def existing_ids(self, rows):
        account_ids = {values["account"] for values in rows}
        lines = SubscriptionLine.objects.filter(tenant=self.tenant, account_id__in=account_ids).values_list(
            "pk", "account_id", "product_id", "start_date"
        )
        return {(account, product, start): pk for pk, account, product, start in lines.iterator(chunk_size=5_000)}

    def row_key(self, values, existing):
        key = (values["account"], values["product"], values["start_date"])
        return ("line", *key), existing.get(key)


class UsageDayValidator(Validator):
    kind = ImportKind.USAGE_DAYS
    model = UsageDay
    key_label = "Account, day"
    key_fields = ("account", "day")

    def reference_resolvers(self):
        return {"account": AccountLookup(self.tenant).resolve}

    def existing_ids(self, rows):
        if not rows:
            return {}
        account_ids = {values["account"] for values in rows}
        days = [values["day"] for values in rows]
        usage = UsageDay.objects.filter(
            tenant=self.tenant, account_id__in=account_ids, day__gte=min(days), day__lte=max(days)
        ).values_list("pk", "account_id", "day")
        return {(account, day): pk for pk, account, day in usage.iterator(chunk_size=5_000)}

    def row_key(self, values, existing):
        key = (values["account"], values["day"])
        return ("usage", *key), existing.get(key)


class InvoiceValidator(Validator):
    kind = ImportKind.INVOICES
    model = Invoice
    key_label = "Invoice number"
    key_fields = ("number",)

    def reference_resolvers(self):
        return {"account": AccountLookup(self.tenant).resolve}

    def row_check(self, number, values, errors):
        if values["due_on"] < values["issued_on"]:
            errors.append(
                RowError(number, self.header_of("due_on"), values["due_on"].isoformat(), "before the issue date")
            )
            return False
        return True

    def existing_ids(self, rows):
        numbers = [values["number"] for values in rows]
        invoices = Invoice.objects.filter(tenant=self.tenant, number__in=numbers).values_list("number", "pk")
        return dict(invoices.iterator(chunk_size=5_000))

    def row_key(self, values, existing):
        return ("invoice", values["number"]), existing.get(values["number"])


class _KeyedByExternalId(Validator):
    """Signals without a natural key (survey responses, tickets): matched by the id the source
    system gave them (``external_id``, required), the same id the ingestion API stores."""

    key_fields = ("external_id",)

    def existing_ids(self, rows):
        external_ids = [values["external_id"] for values in rows]
        found = self.model.objects.filter(tenant=self.tenant)
        # A big file: read the tenant's keyed rows rather than send an IN list of every id.
        found = (
            found.exclude(external_id="") if len(external_ids) > 5_000 else found.filter(external_id__in=external_ids)
        )
        return dict(found.values_list("external_id", "pk").iterator(chunk_size=5_000))

    def row_key(self, values, existing):
        return ("external_id", values["external_id"]), existing.get(values["external_id"])


def _contacts_by_email(tenant: Tenant) -> dict[str, list[tuple[int, int]]]:
    contacts = defaultdict(list)
    rows = Contact.objects.filter(tenant=tenant).exclude(email="").values_list("pk", "account_id", Lower("email"))
    for pk, account_id, email in rows.iterator(chunk_size=5_000):
        contacts[email].append((pk, account_id))
    return contacts


class SurveyResponseValidator(_KeyedByExternalId):
    """NPS (0-10) or CSAT (1-5) answers. Without a survey column the file's kind follows the
    score column's name (a "CSAT" column holds CSAT answers, anything else NPS)."""

    kind = ImportKind.SURVEY_RESPONSES
    model = SurveyResponse
    key_label = "Response ID"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.file_kind = SurveyKind.NPS
        if "kind" not in self.mapped_fields and "csat" in header_normalise(self.header_of("score")):
            self.file_kind = SurveyKind.CSAT

    def reference_resolvers(self):
        contacts = _contacts_by_email(self.tenant)

        def contact(value: str) -> list[tuple[int, int]]:
            found = contacts.get(value.lower())
            if not found:
                raise CellError("unknown contact: no contact has this e-mail (leave it empty to import the answer)")
            return found

        return {"account": AccountLookup(self.tenant).resolve, "contact": contact}

    def row_check(self, number, values, errors):
        ok = True
        if "kind" in self.mapped_fields and values["kind"] is None:
            values["kind"] = SurveyKind.NPS  # a blank survey cell: NPS, the usual one
        kind = values.get("kind") or self.file_kind
        low, high = (0, 10) if kind == SurveyKind.NPS else (1, 5)
        article = "an" if kind == SurveyKind.NPS else "a"
        if not low <= values["score"] <= high:
            errors.append(
                RowError(
                    number,
                    self.header_of("score"),
                    values[RAW]["score"],
                    f"{article} {SurveyKind(kind).label} score is between {low} and {high}",
                )
            )
            ok = False
        if values.get("contact") is not None:
            of_account = [pk for pk, account_id in values["contact"] if account_id == values["account"]]
            if len(of_account) != 1:
                reason = (
                    "this contact belongs to another account"
                    if not of_account
                    else f"{len(of_account)} contacts of this account have this e-mail"
                )
                errors.append(RowError(number, self.header_of("contact"), values[RAW]["contact"], reason))
                ok = False
            else:
                values["contact"] = of_account[0]
        return ok

    def run(self, **kwargs) -> Plan:
        plan = super().run(**kwargs)
        if "kind" not in self.mapped_fields:
            # The file's kind is written on every row, so a re-import keeps score and kind together.
            plan.fields.append("kind")
            plan.rows = [(number, pk, (*values, self.file_kind)) for number, pk, values in plan.rows]
        return plan


class SupportTicketValidator(_KeyedByExternalId):
    kind = ImportKind.SUPPORT_TICKETS
    model = SupportTicket
    key_label = "Ticket ID"

    def reference_resolvers(self):
        return {"account": AccountLookup(self.tenant).resolve}

    def row_check(self, number, values, errors):
        closed_at, opened_at = values.get("closed_at"), values["opened_at"]
        if closed_at is not None and closed_at < opened_at:
            errors.append(
                RowError(
                    number,
                    self.header_of("closed_at"),
                    values[RAW]["closed_at"],
                    f"before the ticket was opened ({values[RAW]['opened_at']})",
                )
            )
            return False
        return True


VALIDATORS: dict[str, type[Validator]] = {
    ImportKind.ACCOUNTS: AccountValidator,
    ImportKind.CONTACTS: ContactValidator,
    ImportKind.SUBSCRIPTION_LINES: SubscriptionLineValidator,
    ImportKind.USAGE_DAYS: UsageDayValidator,
    ImportKind.INVOICES: InvoiceValidator,
    ImportKind.SURVEY_RESPONSES: SurveyResponseValidator,
    ImportKind.SUPPORT_TICKETS: SupportTicketValidator,
}


def plan_build(
    *, tenant: Tenant, kind: str, text: str, delimiter: str, headers: list[str], mapping: dict[str, str], progress=None
) -> Plan:
    """Validate the whole file into a plan (rows to write) and its errors."""
    validator = VALIDATORS[kind](tenant=tenant, headers=headers, mapping=mapping)
    return validator.run(text=text, delimiter=delimiter, progress=progress)


def display(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
