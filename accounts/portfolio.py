"""The portfolio pages (My book, All accounts): which accounts a user sees, how the list is
searched, filtered, sorted, totalled and paged. The views only choose ``mine`` and render."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import NamedTuple, TypedDict

from django import forms
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateField,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Concat
from django.http import HttpRequest
from django.utils.module_loading import import_string

from csplatform.forms import FastSelect
from csplatform.models import Tenant, User
from csplatform.rendering import url_for_each
from csplatform.templatetags.csp import day_month_year, money

from .members import MemberField, member_choices
from .models import Account, LifecycleStage, Segment
from .services import account_totals, tenant_today

# Renewal windows of DOMAIN.md §10, in calendar months from today: (from, up to but excluding).
RENEWAL_WINDOWS = {"0-3": (0, 3), "3-6": (3, 6), "6-9": (6, 9), "9-12": (9, 12)}
RENEWAL_WINDOW_CHOICES = [(key, f"In {start}-{end} months") for key, (start, end) in RENEWAL_WINDOWS.items()]

# Sort key in the URL -> the column it orders by. "days" orders like "renewal": same fact.
SORT_COLUMNS = {
    "name": ("name",),
    "arr": ("arr",),
    "segment": ("segment__name",),
    "owner": ("owner__full_name", "owner__email"),
    "stage": ("stage_position",),
    "renewal": ("next_renewal_date",),
    "days": ("next_renewal_date",),
    "health": ("health__score",),
}
DEFAULT_SORT = "name"
# Sort columns with an index in sort order, and a no-op expression of each that no index has.
FENCEABLE_COLUMNS = {
    "name": lambda column: Concat(column, Value("")),
    "arr": lambda column: ExpressionWrapper(column + Value(Decimal("0")), output_field=DecimalField()),
    "next_renewal_date": lambda column: ExpressionWrapper(column + Value(0), output_field=DateField()),
}
# The table's columns, in order: (sort key, header, right-aligned number).
COLUMNS = [
    ("name", "Account", False),
    ("arr", "ARR", True),
    ("segment", "Segment", False),
    ("owner", "Owner", False),
    ("stage", "Lifecycle stage", False),
    ("renewal", "Next renewal", False),
    ("days", "Days to renewal", True),
    ("health", "Health", True),
]
# What a row shows: the account's own columns and its segment's, owner's and health's (one
# join each, for the page's rows only). Read as values, not model instances: see PortfolioRow.
ROW_FIELDS = (
    "pk", "name", "arr", "segment__name", "owner__full_name", "owner__email", "lifecycle_stage",
    "next_renewal_date", "health__band", "health__score", "health__change_7d",
)  # fmt: skip
STAGE_LABELS = dict(LifecycleStage.choices)
HEALTH_BAND_CHOICES = [("green", "Green"), ("yellow", "Yellow"), ("red", "Red"), ("none", "No score yet")]


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months later, clamped to the month's end (30 Nov + 3 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def parse_sort(value: str) -> tuple[str, bool]:
    """``"arr"`` / ``"-arr"`` -> (key, descending). Anything not whitelisted -> the default."""
    key = value.removeprefix("-")
    if key not in SORT_COLUMNS:
        return DEFAULT_SORT, False
    return key, value.startswith("-")


class SearchInput(forms.TextInput):
    input_type = "search"


class PortfolioFilterForm(forms.Form):
    """The filter bar. Segment and owner choices come from the active tenant only, so another
    tenant's ids fail validation like any other bad value. Every field is optional."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=SearchInput(attrs={"class": "form-control", "placeholder": "Name or domain", "autocomplete": "off"}),
    )
    # The cleaned value is the segment id.
    segment = forms.TypedChoiceField(
        label="Segment",
        required=False,
        coerce=int,
        empty_value=None,
        widget=FastSelect(attrs={"class": "form-select"}),
        error_messages={"invalid_choice": "Select a valid choice. That choice is not one of the available choices."},
    )
    # A large tenant has over a thousand members and this list is on every full page: the
    # options come rendered from the per-process member cache (accounts.members). The cleaned
    # value is the user id.
    owner = MemberField(label="Owner", required=False, empty_label="Anyone")
    stage = forms.ChoiceField(
        label="Lifecycle stage",
        required=False,
        choices=[("", "Any stage"), *LifecycleStage.choices],
        widget=FastSelect(attrs={"class": "form-select"}),
    )
    window = forms.ChoiceField(
        label="Renewal window",
        required=False,
        choices=[("", "Any time"), *RENEWAL_WINDOW_CHOICES],
        widget=FastSelect(attrs={"class": "form-select"}),
    )
    band = forms.ChoiceField(
        label="Health",
        required=False,
        choices=[("", "Any health"), *HEALTH_BAND_CHOICES],
        widget=FastSelect(attrs={"class": "form-select"}),
    )

    def __init__(self, *args, tenant: Tenant, mine: bool, **kwargs):
        super().__init__(*args, **kwargs)
        # Read when first needed, once: validating a chosen segment and listing the options
        # share one query, and an htmx swap, which shows no form, usually needs neither.
        segments = Segment.objects.filter(tenant=tenant).order_by("-arr_min").values_list("pk", "name")
        self.fields["segment"].choices = lambda: [("", "Any segment"), *segments]
        if mine:
            # My book is one owner's by definition.
            del self.fields["owner"]
        else:
            self.fields["owner"].members = member_choices(tenant)

    def valid_filters(self) -> dict:
        """The filters that passed validation and are set; a bad one is dropped (its error
        stays on the form to be shown) instead of failing the whole page."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}


def portfolio_accounts(
    *,
    tenant: Tenant,
    user: User,
    mine: bool,
    filters: dict,
    sort: str = DEFAULT_SORT,
    today: dt.date | None = None,
) -> QuerySet[Account]:
    """The tenant's accounts (only ``user``'s when ``mine``) narrowed by cleaned ``filters``
    (keys of ``PortfolioFilterForm``) and ordered by ``sort`` (``"key"`` or ``"-key"``, see
    ``SORT_COLUMNS``). Empty values sort last either way; name and id break ties so pages
    never overlap. Renewal windows count calendar months from ``today`` (tenant's today by
    default): "0-3" is today up to, not including, the same day three months on."""
    accounts = Account.objects.filter(tenant=tenant)
    if mine:
        accounts = accounts.owned_by(user)
    if filters.get("q"):
        accounts = accounts.search(filters["q"])
    if filters.get("segment"):
        accounts = accounts.filter(segment=filters["segment"])
    if filters.get("owner"):
        accounts = accounts.owned_by(filters["owner"])
    if filters.get("stage"):
        accounts = accounts.filter(lifecycle_stage=filters["stage"])
    if filters.get("band") == "none":
        accounts = accounts.filter(health__isnull=True)
    elif filters.get("band"):
        accounts = accounts.filter(health__band=filters["band"])
    if filters.get("window") in RENEWAL_WINDOWS:
        today = today or tenant_today(tenant)
        start, end = RENEWAL_WINDOWS[filters["window"]]
        accounts = accounts.renewing_between(add_months(today, start), add_months(today, end))
    return _sorted(accounts, sort, searched=trigram_searched(filters))


def trigram_searched(filters: dict) -> bool:
    """Whether the set is narrowed by the trigram-indexed search. Trigram indexes serve searches
    of 3 characters or more, and only on PostgreSQL (SQLite, the embedded default, has none);
    a shorter search matches so much that walking an index in sort order is right."""
    return len((filters.get("q") or "").strip()) >= 3 and connection.vendor == "postgresql"


def _sorted(accounts: QuerySet[Account], sort: str, *, searched: bool = False) -> QuerySet[Account]:
    """``searched``: the set is narrowed by the trigram-indexed search, so the sort must not
    walk an index in sort order. PostgreSQL would walk the (tenant, name) index filtering
    thousands of rows to find a page of rare matches (120 ms for "tech" within a renewal
    window, against 13 ms for the trigram bitmap and a top-N sort of its 600 rows)."""
    key, descending = parse_sort(sort)
    if key == "stage":
        # Lifecycle order (handoff ... churned) means more to a CSM than the alphabet.
        accounts = accounts.annotate(
            stage_position=Case(
                *(When(lifecycle_stage=value, then=Value(i)) for i, value in enumerate(LifecycleStage.values)),
                output_field=IntegerField(),
            )
        )
    columns = [_ordering(column, descending=descending, fenced=searched) for column in SORT_COLUMNS[key]]
    return accounts.order_by(*columns, "name", "pk")


def _ordering(column: str, *, descending: bool, fenced: bool = False):
    """Empty values last either way. Only nullable columns say so: ``NULLS LAST`` on a NOT
    NULL column (ARR) would stop PostgreSQL from walking the (tenant, arr) index backwards.
    ``fenced`` sorts by a no-op expression of the column (``name || ''``, ``arr + 0``) that no
    index provides, for when walking one is the wrong plan (see ``_sorted``)."""
    expression = F(column)
    if fenced and column in FENCEABLE_COLUMNS:
        expression = FENCEABLE_COLUMNS[column](expression)
    nullable = column == "stage_position" or "__" in column or Account._meta.get_field(column).null
    if descending:
        return expression.desc(nulls_last=True) if nullable else expression.desc()
    return expression.asc(nulls_last=True) if nullable else expression.asc()


class CountedPaginator(Paginator):
    """A paginator told its count up front, because the totals query has already counted.

    A page is read as a "deferred join": the page's ids come from the filtered, sorted set
    (joining only what the sort needs), and ``rows(ids)`` fetches just those rows with their
    segment, owner and health. Page 40 then joins 50 rows, not the 2,000 it skips."""

    def __init__(self, object_list, per_page, *, count: int, rows=None):
        super().__init__(object_list, per_page)
        self.count = count  # shadows the cached property, so no second COUNT(*)
        self.rows = rows

    def page(self, number):
        if self.rows is None:
            return super().page(number)
        number = self.validate_number(number)
        if not self.count:
            return self._get_page([], number, self)
        bottom = (number - 1) * self.per_page
        ids = self.object_list.values("pk")[bottom : bottom + self.per_page]
        return self._get_page(self.rows(ids), number, self)


class HealthSummary(NamedTuple):
    """What ``{% health_cell %}`` reads of an account's current health score."""

    band: str
    score: int | None
    change_7d: int | None


class PortfolioRow(TypedDict):
    """One table row with each cell ready to print. Reading the page as values and formatting
    them once here, instead of four model instances a row and a template filter a cell, halved
    the Python that a page's 50 rows cost."""

    detail_url: str
    name: str
    arr: str
    segment: str
    owner: str  # empty when nobody owns the account
    stage: str
    renewal_iso: str  # empty without a renewal date
    renewal_text: str
    days: int | None
    health: HealthSummary | None  # None before the account's first score
    open_tasks: int


def portfolio_rows(values, *, today: dt.date, currency: str, open_tasks: dict[int, int]) -> list[PortfolioRow]:
    """The table's rows from the page's ``ROW_FIELDS`` values, in their order."""
    detail_url = url_for_each("accounts:detail", "account_id")
    rows = []
    for pk, name, arr, segment, owner_name, owner_email, stage, renewal, band, score, change_7d in values:
        rows.append(
            PortfolioRow(
                detail_url=detail_url(pk),
                name=name,
                arr=money(arr, currency),
                segment=segment or "—",
                owner=owner_name or owner_email or "",
                stage=STAGE_LABELS.get(stage, stage),
                renewal_iso=renewal.isoformat() if renewal else "",
                renewal_text=day_month_year(renewal),
                days=(renewal - today).days if renewal else None,
                health=None if band is None else HealthSummary(band, score, change_7d),
                open_tasks=open_tasks.get(pk, 0),
            )
        )
    return rows


def portfolio_page(
    accounts: QuerySet[Account], *, number, rows, searched: bool, totals: dict | None = None
) -> tuple[dict, Page]:
    """The totals of the filtered, sorted ``accounts`` and its page ``number`` (the first when
    that is not a number, the last when past the end), the page's rows read by ``rows(ids)``.

    ``searched`` (``trigram_searched``): the set is the matches of a search, and finding them
    is most of the work, so the first page (where a new search, filter or sort lands) takes its
    ids and the totals from one statement, window aggregates beside ``ORDER BY … LIMIT``,
    instead of searching twice. A later page may be past the end, which only the totals tell,
    so it takes the general path. ``totals`` already known (the tenant's, from the ledger)
    are not counted again."""
    per_page = settings.PORTFOLIO_PAGE_SIZE
    if searched and number in (None, "", "1"):
        with_totals = accounts.annotate(total_count=Window(Count("*")), total_arr=Window(Sum("arr")))
        found = list(with_totals.values_list("pk", "total_count", "total_arr")[:per_page])
        # No first page means no match at all.
        totals = {"count": found[0][1], "arr": found[0][2]} if found else {"count": 0, "arr": Decimal("0")}
        paginator = CountedPaginator(accounts, per_page, count=totals["count"], rows=rows)
        return totals, Page(rows([pk for pk, _, _ in found]) if found else [], 1, paginator)
    totals = totals if totals is not None else accounts.totals()
    paginator = CountedPaginator(accounts, per_page, count=totals["count"], rows=rows)
    return totals, paginator.get_page(number)


def table_headers(sort_key: str, descending: bool) -> list[dict]:
    """Each column's header: the sort its link asks for (the same column flips direction)
    and its ``aria-sort`` when it is the column sorted by."""
    headers = []
    for key, label, numeric in COLUMNS:
        current = key == sort_key
        headers.append(
            {
                "key": key,
                "label": label,
                "numeric": numeric,
                "aria_sort": ("descending" if descending else "ascending") if current else "",
                "next_sort": key if not current or descending else f"-{key}",
            }
        )
    return headers


def portfolio_context(request: HttpRequest, *, mine: bool) -> dict:
    """Everything the portfolio template needs for the current query string."""
    tenant = request.tenant
    today = tenant_today(tenant)
    form = PortfolioFilterForm(request.GET, tenant=tenant, mine=mine)
    filters = form.valid_filters()
    sort_key, descending = parse_sort(request.GET.get("sort", ""))
    sort = f"-{sort_key}" if descending else sort_key
    accounts = portfolio_accounts(tenant=tenant, user=request.user, mine=mine, filters=filters, sort=sort, today=today)

    def rows(ids) -> QuerySet[Account]:
        return _sorted(Account.objects.filter(tenant=tenant, pk__in=ids), sort).values_list(*ROW_FIELDS)

    totals, page = portfolio_page(
        accounts,
        number=request.GET.get("page"),
        rows=rows,
        searched=trigram_searched(filters),
        # All the tenant's accounts, or a segment's: the totals ledger has them (a few rows, not
        # up to 100,000 accounts).
        totals=account_totals(tenant=tenant, segment=filters.get("segment"))
        if set(filters) <= {"segment"} and not mine
        else None,
    )
    values = list(page.object_list)
    # The open playbook tasks of this page's accounts: one grouped COUNT (tenant, account, status).
    open_tasks = import_string("playbooks.queries.open_task_counts")(
        tenant=tenant, account_ids=[pk for pk, *_ in values]
    )
    return {
        "form": form,
        "mine": mine,
        "filtered": bool(filters),
        "sort": sort,
        "headers": table_headers(sort_key, descending),
        "totals": totals,
        "page": page,
        "rows": portfolio_rows(values, today=today, currency=tenant.currency, open_tasks=open_tasks),
    }


def portfolio_export_rows(request: HttpRequest, *, mine: bool) -> tuple[list[str], Iterator[tuple]]:
    """The CSV export of the page for the current query string: every account the filters
    and sort select (all pages), in the table's columns. Rows stream in chunks of one query."""
    from csplatform.exports import CHUNK_SIZE

    tenant = request.tenant
    today = tenant_today(tenant)
    filters = PortfolioFilterForm(request.GET, tenant=tenant, mine=mine).valid_filters()
    sort_key, descending = parse_sort(request.GET.get("sort", ""))
    sort = f"-{sort_key}" if descending else sort_key
    accounts = portfolio_accounts(tenant=tenant, user=request.user, mine=mine, filters=filters, sort=sort, today=today)
    values = accounts.values_list(
        "name", "arr", "segment__name", "owner__full_name", "owner__email", "lifecycle_stage", "next_renewal_date",
        "health__score", "health__band",
    )  # fmt: skip
    stages = dict(LifecycleStage.choices)
    header = [label for _, label, _ in COLUMNS] + ["Health band"]

    def rows() -> Iterator[tuple]:
        for name, arr, segment, owner_name, owner_email, stage, renewal, score, band in values.iterator(CHUNK_SIZE):
            days = (renewal - today).days if renewal else ""
            owner = owner_name or owner_email or ""
            score = "" if score is None else score
            yield (name, arr, segment or "", owner, stages.get(stage, stage), renewal or "", days, score, band)

    return header, rows()
