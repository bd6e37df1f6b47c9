"""Writes that touch accounts. Keyword-only, typed, named ``<entity>_<verb>``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Case, DecimalField, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from csplatform.models import Tenant

from .models import DEFAULT_SEGMENTS, Account, Segment


def tenant_today(tenant: Tenant) -> dt.date:
    """Today in the tenant's own time zone (a renewal is due on the customer's calendar)."""
    import zoneinfo

    return timezone.now().astimezone(zoneinfo.ZoneInfo(tenant.time_zone)).date()


def segments_create_defaults(*, tenant: Tenant) -> list[Segment]:
    """Give a new tenant the segments of DOMAIN.md §9 (idempotent by name)."""
    segments = []
    for spec in DEFAULT_SEGMENTS:
        segment, _ = Segment.objects.get_or_create(tenant=tenant, name=spec["name"], defaults=spec)
        segments.append(segment)
    return segments


def account_rollups_refresh(
    *, tenant: Tenant, account_ids: Iterable[int] | None = None, today: dt.date | None = None
) -> int:
    """Recompute ``arr`` and ``next_renewal_date`` from the active subscription lines, then
    the segment from the ARR bands (unless pinned). Two set-based UPDATEs whatever the
    number of accounts; returns the number of accounts touched.

    ARR = sum of lines whose term covers today; next renewal = the earliest end date among them.
    """
    from renewals.models import SubscriptionLine

    today = today or tenant_today(tenant)
    accounts = Account.objects.filter(tenant=tenant)
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    active_lines = SubscriptionLine.objects.filter(tenant=tenant, account=OuterRef("pk")).active_on(today)
    arr_of_account = active_lines.order_by().values("account").annotate(total=Sum("arr")).values("total")
    first_end = active_lines.order_by("end_date").values("end_date")[:1]
    touched = accounts.update(
        arr=Coalesce(Subquery(arr_of_account), Value(Decimal("0")), output_field=DecimalField()),
        next_renewal_date=Subquery(first_end),
    )
    segments_assign(tenant=tenant, accounts=accounts)
    return touched


def segments_assign(*, tenant: Tenant, accounts=None) -> int:
    """Put every unpinned account into the segment whose ARR band holds its ARR (one UPDATE)."""
    accounts = Account.objects.filter(tenant=tenant) if accounts is None else accounts
    bands = []
    for segment in Segment.objects.filter(tenant=tenant).order_by("-arr_min"):
        in_band = Q(arr__gte=segment.arr_min)
        if segment.arr_max is not None:
            in_band &= Q(arr__lt=segment.arr_max)
        bands.append(When(in_band, then=Value(segment.pk)))
    if not bands:
        return 0
    return accounts.filter(segment_pinned=False).update(
        segment_id=Case(*bands, default=None, output_field=IntegerField())
    )
