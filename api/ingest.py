"""Bulk ingestion of customer signals (``POST /api/v1/events/``).

A batch of up to ``MAX_BATCH`` events is validated event by event in plain Python (a DRF
serializer per event is ten times slower), the customer's external ids are resolved in one
query, and the valid events are written set-based in one transaction:

1. their ids go into the ``IngestedEvent`` ledger with one ``INSERT … SELECT … FROM
   unnest(…) ON CONFLICT (tenant, event_id) DO NOTHING RETURNING event_id``: the ids it returns
   are the new events, the others were ingested before and change nothing;
2. each kind's new rows go into its signal table with one ``INSERT … SELECT … FROM unnest(…)``
   (one array parameter per column: no temporary table, no placeholder per value; usage and
   marketing days upsert on (account, day), invoices on their number, survey responses and
   support tickets on their ``external_id``, the event's own or its event id: the latest event wins);
3. after commit, one coalesced health recompute is queued for the accounts touched.

Invalid events are reported (index, event id, field, message) and the others kept. On SQLite
(the embedded run) the same steps use the ORM.
"""

from __future__ import annotations

import datetime as dt
import gc
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import Account, Contact
from csplatform.models import Tenant
from health.models import (
    Invoice,
    MarketingEngagement,
    NotableEvent,
    NotableEventKind,
    SupportTicket,
    SurveyKind,
    SurveyResponse,
    TicketPriority,
    TrackedFeature,
    UsageDay,
)

from .models import EventKind, IngestedEvent

MAX_BATCH = 10_000
MAX_COUNT = 2_147_483_647
MAX_AMOUNT = Decimal("999999999999.99")


class Invalid(Exception):
    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# --- Field readers: each returns the clean value or raises Invalid naming the field --------


def _text(event: dict, name: str, max_length: int, *, required: bool = True) -> str:
    return _text_value(event.get(name), name, max_length, required=required)


def _text_value(value, name: str, max_length: int, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise Invalid(name, "This field is required.")
        return ""
    if not isinstance(value, str):
        raise Invalid(name, "Must be a string.")
    if "\x00" in value:
        raise Invalid(name, "Null characters are not allowed.")
    if len(value) > max_length:
        raise Invalid(name, f"At most {max_length} characters.")
    return value


def _count(event: dict, name: str, *, default: int | None = None, maximum: int = MAX_COUNT) -> int:
    value = event.get(name, default)
    if value is None:
        raise Invalid(name, "This field is required.")
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(name, "Must be a whole number.")
    if not 0 <= value <= maximum:
        raise Invalid(name, f"Must be between 0 and {maximum}.")
    return value


def _date(event: dict, name: str, *, required: bool = True) -> dt.date | None:
    value = event.get(name)
    if value is None:
        if required:
            raise Invalid(name, "This field is required.")
        return None
    if not isinstance(value, str):
        raise Invalid(name, "Must be a date as YYYY-MM-DD.")
    try:
        return dt.date.fromisoformat(value) if len(value) == 10 else _bad_date(name)
    except ValueError:
        raise Invalid(name, "Must be a date as YYYY-MM-DD.") from None


def _bad_date(name: str):
    raise Invalid(name, "Must be a date as YYYY-MM-DD.")


def _datetime(event: dict, name: str, *, required: bool = True) -> dt.datetime | None:
    value = event.get(name)
    if value is None:
        if required:
            raise Invalid(name, "This field is required.")
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise Invalid(name, "Must be an ISO 8601 date and time, e.g. 2026-11-23T14:05:00Z.")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)  # documented: a time without an offset is UTC
    try:
        # PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 text may still carry.
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise Invalid(name, "This date and time is out of range.") from None


_CHOICE_VALUES: dict[type, frozenset] = {}


def _choice(event: dict, name: str, choices: type, *, default: str | None = None) -> str:
    value = event.get(name, default)
    if value is None:
        raise Invalid(name, "This field is required.")
    allowed = _CHOICE_VALUES.get(choices)
    if allowed is None:  # ``choices.values`` builds a list at each call: too slow per event
        allowed = _CHOICE_VALUES[choices] = frozenset(choices.values)
    if not isinstance(value, str) or value not in allowed:
        raise Invalid(name, f"Must be one of: {', '.join(choices.values)}.")
    return value


def _amount(event: dict, name: str) -> Decimal:
    value = event.get(name)
    if value is None:
        raise Invalid(name, "This field is required.")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid(name, "Must be a number.")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Invalid(name, "Must be a number.") from None
    if not amount.is_finite() or (isinstance(value, float) and not math.isfinite(value)):
        raise Invalid(name, "Must be a number.")
    if not Decimal("0") <= amount <= MAX_AMOUNT:
        raise Invalid(name, f"Must be between 0 and {MAX_AMOUNT}.")
    return amount.quantize(Decimal("0.01"))


# --- Per-kind readers: the event's own fields, in the signal table's column order ----------------


def _usage_day(event: dict, features: Callable[[list], int]) -> tuple:
    mask = _count(event, "feature_mask", default=0, maximum=2**62)
    if event.get("features") is not None:
        mask |= features(event["features"])
    return (_date(event, "day"), _count(event, "active_users"), _count(event, "licensed_seats"), mask)


def _survey_response(event: dict, features) -> tuple:
    kind = _choice(event, "kind", SurveyKind)
    score = _count(event, "score", maximum=10)
    low, high = (0, 10) if kind == SurveyKind.NPS else (1, 5)
    if not low <= score <= high:
        raise Invalid("score", f"A {SurveyKind(kind).label} score is between {low} and {high}.")
    return (kind, score, _date(event, "responded_on"), _text(event, "comment", 5_000, required=False))


def _support_ticket(event: dict, features) -> tuple:
    opened_at = _datetime(event, "opened_at")
    closed_at = _datetime(event, "closed_at", required=False)
    if closed_at is not None and closed_at < opened_at:
        raise Invalid("closed_at", "A ticket cannot close before it opened.")
    subject = _text(event, "subject", 200)
    return (subject, _choice(event, "priority", TicketPriority, default=TicketPriority.NORMAL), opened_at, closed_at)


def _invoice(event: dict, features) -> tuple:
    issued_on, due_on = _date(event, "issued_on"), _date(event, "due_on")
    if due_on < issued_on:
        raise Invalid("due_on", "An invoice cannot be due before it is issued.")
    number = _text(event, "number", 40)
    return (number, _amount(event, "amount"), issued_on, due_on, _date(event, "paid_on", required=False))


def _marketing_engagement(event: dict, features) -> tuple:
    return (
        _date(event, "day"),
        _count(event, "opens", default=0),
        _count(event, "clicks", default=0),
        _count(event, "bounces", default=0),
        _count(event, "opt_outs", default=0),
    )


def _notable_event(event: dict, features) -> tuple:
    kind = _choice(event, "kind", NotableEventKind)
    return (kind, _date(event, "occurred_on"), _text(event, "note", 300, required=False))


@dataclass(frozen=True)
class Kind:
    reader: Callable
    model: type
    columns: tuple[str, ...]  # after tenant_id, account_id
    sql_types: tuple[str, ...]
    upsert_on: tuple[str, ...] = ()  # natural key (after tenant_id): the latest event wins
    upsert_where: str = ""  # the predicate of a partial unique index on the natural key
    # The row's ``external_id`` is the event's optional ``external_id`` (the ticket's or
    # response's own id in the help desk or survey tool), else the event id (appended last):
    # a later event of the same ticket (closed) or a CSV import of the same id updates the row
    # instead of adding a second one, and vice versa.
    keyed_by_event: bool = False


KINDS: dict[str, Kind] = {
    EventKind.USAGE_DAY: Kind(
        _usage_day,
        UsageDay,
        ("day", "active_users", "licensed_seats", "feature_mask"),
        ("date", "integer", "integer", "bigint"),
        upsert_on=("account_id", "day"),
    ),
    EventKind.SURVEY_RESPONSE: Kind(
        _survey_response,
        SurveyResponse,
        ("kind", "score", "responded_on", "comment", "contact_id", "external_id"),
        ("text", "smallint", "date", "text", "bigint", "text"),
        upsert_on=("external_id",),
        upsert_where="external_id <> ''",
        keyed_by_event=True,
    ),
    EventKind.SUPPORT_TICKET: Kind(
        _support_ticket,
        SupportTicket,
        ("subject", "priority", "opened_at", "closed_at", "external_id"),
        ("text", "text", "timestamptz", "timestamptz", "text"),
        upsert_on=("external_id",),
        upsert_where="external_id <> ''",
        keyed_by_event=True,
    ),
    EventKind.INVOICE: Kind(
        _invoice,
        Invoice,
        ("number", "amount", "issued_on", "due_on", "paid_on"),
        ("text", "numeric", "date", "date", "date"),
        upsert_on=("number",),
    ),
    EventKind.MARKETING_ENGAGEMENT: Kind(
        _marketing_engagement,
        MarketingEngagement,
        ("day", "opens", "clicks", "bounces", "opt_outs"),
        ("date", "integer", "integer", "integer", "integer"),
        upsert_on=("account_id", "day"),
    ),
    EventKind.NOTABLE_EVENT: Kind(
        _notable_event,
        NotableEvent,
        ("kind", "occurred_on", "note"),
        ("text", "date", "text"),
    ),
}


# --- The batch -------------------------------------------------------------------------------


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)  # new events, written
    duplicates: list[str] = field(default_factory=list)  # ingested before: nothing changed
    rejected: list[dict] = field(default_factory=list)  # {index, event_id, field, message}
    account_ids: set[int] = field(default_factory=set)  # accounts whose signals changed


@dataclass
class _Valid:
    index: int
    event_id: str
    kind: str
    account_external_id: str
    contact_external_id: str
    values: tuple
    record_id: str  # a survey response's or ticket's own id (``external_id``), else the event id


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A batch allocates some 100,000 short-lived objects, which sets off full collections of
    the process's large heap that free nothing: pausing the cyclic collector for the batch
    saves about a sixth of its CPU time. Reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def events_ingest(*, tenant: Tenant, events: list, now: dt.datetime | None = None) -> IngestResult:
    """Validate and write one batch (see the module docstring). ``events`` is the decoded JSON
    list; the caller has checked that it is a list of at most ``MAX_BATCH`` items."""
    with _collector_paused():
        return _events_ingest(tenant=tenant, events=events, now=now)


def _events_ingest(*, tenant: Tenant, events: list, now: dt.datetime | None) -> IngestResult:
    now = now or timezone.now()
    result = IngestResult()
    features = _FeatureBits(tenant)
    valid: list[_Valid] = []
    seen: dict[str, int] = {}

    def reject(index: int, event_id, field_name: str | None, message: str) -> None:
        result.rejected.append({"index": index, "event_id": event_id, "field": field_name, "message": message})

    for index, event in enumerate(events):
        if not isinstance(event, dict):
            reject(index, None, None, "Each event is a JSON object.")
            continue
        event_id = event.get("event_id")
        try:
            if isinstance(event_id, int) and not isinstance(event_id, bool):
                event_id = str(event_id)
            event_id = _text_value(event_id, "event_id", 100)
            if event_id in seen:
                raise Invalid("event_id", f"Repeats the event id of event {seen[event_id]} in this batch.")
            seen[event_id] = index
            kind = _choice(event, "type", EventKind)
            account_external_id = _text(event, "account_external_id", 100)
            contact_external_id = _text(event, "contact_external_id", 100, required=False)
            values = KINDS[kind].reader(event, features)
            record_id = (KINDS[kind].keyed_by_event and _text(event, "external_id", 100, required=False)) or event_id
        except Invalid as problem:
            reject(index, event_id if isinstance(event_id, str) else None, problem.field, problem.message)
            continue
        valid.append(_Valid(index, event_id, kind, account_external_id, contact_external_id, values, record_id))

    accounts = _ids_by_external_id(Account, tenant, {v.account_external_id for v in valid})
    contacts = _contacts_by_external_id(tenant, {v.contact_external_id for v in valid if v.contact_external_id})
    rows: list[tuple[_Valid, int, int | None]] = []
    for item in valid:
        account_id = accounts.get(item.account_external_id)
        if account_id is None:
            reject(
                item.index,
                item.event_id,
                "account_external_id",
                f"No account has the external id {item.account_external_id}.",
            )
            continue
        contact_id = None
        if item.contact_external_id:
            contact_id, contact_account_id = contacts.get(item.contact_external_id, (None, None))
            if contact_id is None or contact_account_id != account_id:
                reject(
                    item.index,
                    item.event_id,
                    "contact_external_id",
                    f"No contact of account {item.account_external_id} has the external id {item.contact_external_id}.",
                )
                continue
        rows.append((item, account_id, contact_id))
    result.rejected.sort(key=lambda rejection: rejection["index"])
    if not rows:
        return result

    with transaction.atomic():
        new_ids = _ledger_insert(tenant, [(item.event_id, item.kind, account_id) for item, account_id, _ in rows], now)
        fresh = [row for row in rows if row[0].event_id in new_ids]
        for kind_name, kind in KINDS.items():
            kind_rows = [
                (
                    account_id,
                    *item.values,
                    *((contact_id,) if kind.model is SurveyResponse else ()),
                    *((item.record_id,) if kind.keyed_by_event else ()),
                )
                for item, account_id, contact_id in fresh
                if item.kind == kind_name
            ]
            if kind_rows:
                _signals_write(tenant, kind, kind_rows)
        result.account_ids = {account_id for _, account_id, _ in fresh}
        tenant_id, account_ids = tenant.pk, sorted(result.account_ids)
        transaction.on_commit(lambda: recompute_enqueue(tenant_id=tenant_id, account_ids=account_ids))
    for item, _, _ in rows:
        (result.accepted if item.event_id in new_ids else result.duplicates).append(item.event_id)
    return result


class _FeatureBits:
    """Feature names → a bit mask, the tenant's tracked features read once, on first use."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self.bits: dict[str, int] | None = None

    def __call__(self, names) -> int:
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise Invalid("features", "Must be a list of feature names.")
        if self.bits is None:
            self.bits = dict(TrackedFeature.objects.filter(tenant=self.tenant).values_list("name", "bit"))
        mask = 0
        for name in names:
            if name not in self.bits:
                raise Invalid("features", f"{name} is not a tracked feature.")
            mask |= 1 << self.bits[name]
        return mask


def _ids_by_external_id(model, tenant: Tenant, external_ids: set[str]) -> dict[str, int]:
    if not external_ids:
        return {}
    if connection.vendor == "postgresql":
        # One array parameter instead of 10,000 placeholders (a third of the batch's time).
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT external_id, id FROM {model._meta.db_table} "  # noqa: S608
                "WHERE tenant_id = %s AND external_id = ANY(%s)",
                [tenant.pk, list(external_ids)],
            )
            return dict(cursor.fetchall())
    return dict(
        model.objects.filter(tenant=tenant, external_id__in=list(external_ids)).values_list("external_id", "pk")
    )


def _contacts_by_external_id(tenant: Tenant, external_ids: set[str]) -> dict[str, tuple[int, int]]:
    if not external_ids:
        return {}
    rows = Contact.objects.filter(tenant=tenant, external_id__in=list(external_ids))
    return {
        external_id: (pk, account_id)
        for external_id, pk, account_id in rows.values_list("external_id", "pk", "account_id")
    }


def _unnest(columns: tuple[str, ...], sql_types: tuple[str, ...], rows: list[tuple]) -> tuple[str, list]:
    """``SELECT … FROM unnest(…)`` of ``rows``, sent as one array parameter per column: no
    temporary table to create (catalog writes) and no placeholder per value."""
    arrays = [list(column) for column in zip(*rows, strict=True)]
    select = ", ".join(f"%s::{sql_type}[]" for sql_type in sql_types)
    return f"SELECT * FROM unnest({select}) AS t ({', '.join(columns)})", arrays  # noqa: S608 (constant names)


def _ledger_insert(tenant: Tenant, rows: list[tuple[str, str, int]], now: dt.datetime) -> set[str]:
    """Record the events; return the ids that were not recorded before."""
    if connection.vendor != "postgresql":
        existing = set()
        ids = [event_id for event_id, _, _ in rows]
        for start in range(0, len(ids), 500):
            existing |= set(
                IngestedEvent.objects.filter(tenant=tenant, event_id__in=ids[start : start + 500]).values_list(
                    "event_id", flat=True
                )
            )
        IngestedEvent.objects.bulk_create(
            IngestedEvent(tenant=tenant, event_id=event_id, kind=kind, account_id=account_id, received_at=now)
            for event_id, kind, account_id in rows
            if event_id not in existing
        )
        return {event_id for event_id, _, _ in rows} - existing
    select, arrays = _unnest(("event_id", "kind", "account_id"), ("text", "text", "bigint"), rows)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {IngestedEvent._meta.db_table} (tenant_id, event_id, kind, account_id, received_at) "  # noqa: S608
            f"SELECT %s, event_id, kind, account_id, %s FROM ({select}) AS new "
            "ON CONFLICT (tenant_id, event_id) DO NOTHING RETURNING event_id",
            [tenant.pk, now, *arrays],
        )
        return {row[0] for row in cursor.fetchall()}


def _signals_write(tenant: Tenant, kind: Kind, rows: list[tuple]) -> None:
    """Write one kind's new rows (``(account_id, *columns)``); upserting kinds keep the last
    event of each natural key."""
    columns = ("account_id", *kind.columns)
    if kind.upsert_on:
        positions = [columns.index(name) for name in kind.upsert_on]
        rows = list({tuple(row[p] for p in positions): row for row in rows}.values())
    if connection.vendor != "postgresql":
        _signals_write_orm(tenant, kind, columns, rows)
        return
    select, arrays = _unnest(columns, ("bigint", *kind.sql_types), rows)
    insert = (
        f"INSERT INTO {kind.model._meta.db_table} (tenant_id, {', '.join(columns)}) "  # noqa: S608
        f"SELECT %s, {', '.join(columns)} FROM ({select}) AS new"
    )
    if kind.upsert_on:
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in kind.upsert_on)
        where = f" WHERE {kind.upsert_where}" if kind.upsert_where else ""
        insert += f" ON CONFLICT (tenant_id, {', '.join(kind.upsert_on)}){where} DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        cursor.execute(insert, [tenant.pk, *arrays])


def _signals_write_orm(tenant: Tenant, kind: Kind, columns: tuple[str, ...], rows: list[tuple]) -> None:
    model = kind.model
    if not kind.upsert_on:
        model.objects.bulk_create(model(tenant=tenant, **dict(zip(columns, row, strict=True))) for row in rows)
        return
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        key = {name: values.pop(name) for name in kind.upsert_on}
        model.objects.update_or_create(tenant=tenant, **key, defaults=values)


def recompute_enqueue(*, tenant_id: int, account_ids: list[int]) -> None:
    """Queue one health recompute for the accounts of a batch, leaving out those already
    pending (health's per-account "pending" cache keys, so bursts from the API, the pages
    and imports coalesce into one recompute of an account)."""
    from health.services import COALESCE_SECONDS
    from health.tasks import recompute_accounts

    if not account_ids:
        return
    keys = [f"health:pending:{tenant_id}:{account_id}" for account_id in account_ids]
    claimed = _cache_add_many(keys, timeout=COALESCE_SECONDS)
    due = [account_id for account_id, added in zip(account_ids, claimed, strict=True) if added]
    if due:
        recompute_accounts.apply_async(kwargs={"tenant_id": tenant_id, "account_ids": due}, countdown=COALESCE_SECONDS)


# SET NX EX of every key, server-side: one command instead of one per key.
ADD_MANY_LUA = """
local added = {}
for i, key in ipairs(KEYS) do
    added[i] = redis.call('SET', key, 1, 'NX', 'EX', ARGV[1]) and 1 or 0
end
return added
"""


def _cache_add_many(keys: list[str], *, timeout: int) -> list[bool]:
    """``cache.add`` of each key (value 1), True where the key was not there yet. On Redis one
    script call (``cache.add`` key by key, or even pipelined, costs a quarter of a
    10,000-account batch); elsewhere (the embedded run's local memory) one ``add`` a key."""
    backend = caches["default"]  # ``cache`` is a proxy: isinstance needs the backend itself
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client(write=True)  # Django's own redis-py client
        claimed = client.register_script(ADD_MANY_LUA)(keys=[backend.make_key(key) for key in keys], args=[timeout])
        return [bool(result) for result in claimed]
    return [backend.add(key, 1, timeout=timeout) for key in keys]
