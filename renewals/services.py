"""Writes of the renewals app: renewals, their forecast and close, churn reasons, expansion
opportunities. Keyword-only, typed, named ``<entity>_<verb>``; bad input raises
``ValidationError`` keyed by the form field it is about, before anything is written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Max, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import Account
from accounts.portfolio import add_months
from accounts.services import account_rollups_refresh, tenant_today
from csplatform.models import Membership, Tenant, User

from .ledger import ledger_rebuild
from .models import (
    DEFAULT_CHURN_REASONS,
    OUTCOMES_NEEDING_REASON,
    ChurnReason,
    ExpansionOpportunity,
    ForecastCategory,
    Product,
    Renewal,
    RenewalAffectedProduct,
    RenewalOutcome,
    RetentionSettings,
    SubscriptionLine,
)

# Renewals are created this far ahead: the pipeline's last window ends at 12 months (DOMAIN.md §10).
RENEWAL_HORIZON_MONTHS = 12


def can_work_renewal(membership: Membership, renewal: Renewal) -> bool:
    """A CSM works the renewals they own; a leader or an admin works any of the tenant's."""
    return membership.tenant_id == renewal.tenant_id and (
        membership.is_leader or renewal.owner_id == membership.user_id
    )


# --- Creating renewals from the subscription lines ------------------------------------------


# One open renewal per account and term end, from the lines: one INSERT … SELECT, the terms that
# already have a renewal left as they are (PostgreSQL and SQLite alike).
_INSERT_UPCOMING = """
    INSERT INTO renewals_renewal (
        tenant_id, account_id, renewal_date, arr_up, forecast_arr, forecast_category, owner_id,
        notes, outcome, reason_note, created_at
    )
    SELECT l.tenant_id, l.account_id, l.end_date, SUM(l.arr), SUM(l.arr), %(likely)s, MAX(a.owner_id),
        '', '', '', %(now)s
    FROM renewals_subscriptionline l JOIN accounts_account a ON a.id = l.account_id
    WHERE l.tenant_id = %(tenant)s AND l.end_date >= %(today)s AND l.end_date < %(horizon)s
        AND l.start_date <= %(horizon)s
    GROUP BY l.tenant_id, l.account_id, l.end_date
    ON CONFLICT DO NOTHING
"""


def renewals_create_upcoming(*, tenant: Tenant, today: dt.date | None = None) -> int:
    """One open renewal per account and term end (the lines ending on the same day are one
    term) for every term ending from ``today`` to 12 months on, with the ARR up for renewal,
    the account's owner, and a forecast of "likely" at the ARR up. Idempotent: existing
    renewals are kept (an open one gets its ARR up and owner refreshed, since lines may have
    been added to the term). Set-based: one INSERT … SELECT and, for renewals that were there
    already, one UPDATE. Returns the number of renewals created."""
    today = today or tenant_today(tenant)
    horizon = add_months(today, RENEWAL_HORIZON_MONTHS)
    params = {"tenant": tenant.pk, "today": today, "horizon": horizon}
    existing = Renewal.objects.filter(tenant=tenant, renewal_date__gte=today, renewal_date__lt=horizon)
    before = existing.count()
    # Renewals that were there before this call get their ARR up and owner refreshed below; the
    # ones this call inserts already have them (and on a new tenant that is all of them).
    last_before = Renewal.objects.filter(tenant=tenant).aggregate(last=Max("pk"))["last"]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_UPCOMING, {**params, "likely": ForecastCategory.LIKELY, "now": timezone.now()})
    if last_before is not None:
        term_arr = (
            SubscriptionLine.objects.filter(
                tenant=tenant, account_id=OuterRef("account_id"), end_date=OuterRef("renewal_date")
            )
            .order_by()
            .values("account_id")
            .annotate(total=Sum("arr"))
            .values("total")
        )
        owner = Account.objects.filter(tenant=tenant, pk=OuterRef("account_id")).values("owner_id")
        existing.open().filter(pk__lte=last_before).update(
            arr_up=Coalesce(Subquery(term_arr), Value(Decimal("0"))), owner_id=Subquery(owner)
        )
    return existing.count() - before


# --- Forecast and close ---------------------------------------------------------------------


def renewal_forecast_update(
    *, renewal: Renewal, forecast_category: str, forecast_arr: Decimal, notes: str | None = None
) -> Renewal:
    """Set an open renewal's forecast (category and ARR) and, when given, its notes."""
    if not renewal.is_open:
        raise ValidationError("This renewal is closed: its forecast can no longer change.")
    if forecast_arr < 0:
        raise ValidationError({"forecast_arr": "The forecast ARR cannot be negative."})
    if forecast_category == ForecastCategory.LOST and forecast_arr != 0:
        raise ValidationError({"forecast_arr": "A renewal forecast as lost keeps no ARR: set 0."})
    renewal.forecast_category = forecast_category
    renewal.forecast_arr = forecast_arr
    fields = ["forecast_category", "forecast_arr"]
    if notes is not None:
        renewal.notes = notes
        fields.append("notes")
    renewal.save(update_fields=fields)
    return renewal


@dataclass(frozen=True)
class NewLine:
    """ARR of one product for the next term, as decided at the close."""

    product: Product
    arr: Decimal


def renewal_products(renewal: Renewal) -> list[tuple[Product, Decimal]]:
    """The products of the term up for renewal, with their ARR (one grouped query)."""
    rows = (
        SubscriptionLine.objects.filter(
            tenant_id=renewal.tenant_id, account_id=renewal.account_id, end_date=renewal.renewal_date
        )
        .order_by()
        .values("product_id")
        .annotate(arr=Sum("arr"))
    )
    arr_of = {row["product_id"]: row["arr"] for row in rows}
    products = Product.objects.filter(tenant_id=renewal.tenant_id, pk__in=arr_of)
    return [(product, arr_of[product.pk]) for product in products]


def outcome_expected(*, arr_up: Decimal, new_arr: Decimal) -> str:
    """The outcome the numbers say, comparing the next term's ARR with the ARR up for renewal
    to the cent: nothing renewed is churn, less is contraction, more is expansion, and exactly
    the same ARR (flat) is "renewed". A renewal a cent lower is a contraction and needs a reason:
    the outcome must agree with what the ledger will show for the account."""
    if new_arr <= 0:
        return RenewalOutcome.CHURNED
    if new_arr < arr_up:
        return RenewalOutcome.CONTRACTED
    if new_arr > arr_up:
        return RenewalOutcome.EXPANDED
    return RenewalOutcome.RENEWED


def renewal_close(
    *,
    renewal: Renewal,
    closed_by: User,
    outcome: str,
    new_lines: Sequence[NewLine],
    term_months: int = 12,
    churn_reason: ChurnReason | None = None,
    reason_note: str = "",
    affected_products: Iterable[Product] = (),
    today: dt.date | None = None,
) -> Renewal:
    """Close an open renewal with its ``outcome`` and the ARR of the next term.

    ``new_lines`` (ARR above zero) become subscription lines from the day after the renewal
    date for ``term_months``. The outcome must agree with the numbers (``outcome_expected``).
    A churn or a contraction needs a ``churn_reason`` (one in use, with ``reason_note`` when
    the reason asks for one) and at least one affected product. In one transaction: the
    renewal is claimed (a second close of the same renewal is refused), the lines are written,
    and the account's ARR roll-ups and ARR ledger are refreshed, so the dashboards show the
    change at once."""
    tenant = renewal.tenant
    affected = list({product.pk: product for product in affected_products}.values())
    new_lines = [line for line in new_lines if line.arr > 0]
    if any(p.tenant_id != renewal.tenant_id for p in [*affected, *(line.product for line in new_lines)]):
        raise ValueError("A product belongs to another tenant.")
    if churn_reason is not None and churn_reason.tenant_id != renewal.tenant_id:
        raise ValueError("The churn reason belongs to another tenant.")
    if not renewal.is_open:
        raise ValidationError("This renewal is closed already.")
    if not 1 <= term_months <= 60:
        raise ValidationError({"term_months": "A term runs 1 to 60 months."})
    new_arr = sum((line.arr for line in new_lines), Decimal("0"))
    expected = outcome_expected(arr_up=renewal.arr_up, new_arr=new_arr)
    errors: dict[str, str] = {}
    if outcome != expected:
        label = RenewalOutcome(expected).label.lower()
        errors["outcome"] = (
            f"The next term's ARR totals {new_arr:,.0f} against {renewal.arr_up:,.0f} up for renewal: "
            f"that is {label}, not {RenewalOutcome(outcome).label.lower()}."
            if outcome in RenewalOutcome.values
            else "Choose an outcome."
        )
    if outcome in OUTCOMES_NEEDING_REASON:
        if churn_reason is None:
            errors["churn_reason"] = "A churn or a contraction needs a reason: choose why the ARR was lost."
        elif churn_reason.retired_on is not None:
            errors["churn_reason"] = f"{churn_reason} is retired: choose a reason in use."
        elif churn_reason.note_required and not reason_note.strip():
            errors["reason_note"] = f"{churn_reason} needs a note saying what happened."
        if not affected:
            errors["affected_products"] = "Choose the products that were lost or reduced."
    if errors:
        raise ValidationError(errors)
    if outcome not in OUTCOMES_NEEDING_REASON:
        churn_reason, reason_note, affected = None, "", []
    today = today or tenant_today(tenant)
    start = renewal.renewal_date + dt.timedelta(days=1)
    end = add_months(start, term_months) - dt.timedelta(days=1)
    with transaction.atomic():
        claimed = Renewal.objects.filter(tenant=tenant, pk=renewal.pk, closed_at__isnull=True).update(
            closed_at=timezone.now(),
            closed_by=closed_by,
            outcome=outcome,
            new_arr=new_arr,
            churn_reason=churn_reason,
            reason_note=reason_note.strip(),
            forecast_category=ForecastCategory.LOST if outcome == RenewalOutcome.CHURNED else renewal.forecast_category,
        )
        if not claimed:
            raise ValidationError("This renewal is closed already.")
        SubscriptionLine.objects.bulk_create(
            SubscriptionLine(
                tenant=tenant,
                account_id=renewal.account_id,
                product=line.product,
                arr=line.arr,
                start_date=start,
                end_date=end,
            )
            for line in new_lines
        )
        RenewalAffectedProduct.objects.bulk_create(
            RenewalAffectedProduct(tenant=tenant, renewal=renewal, product=product) for product in affected
        )
        account_rollups_refresh(tenant=tenant, account_ids=[renewal.account_id], today=today)
        ledger_rebuild(tenant=tenant, account_ids=[renewal.account_id], today=today)
    renewal.refresh_from_db()
    return renewal


# --- Churn reasons --------------------------------------------------------------------------


def churn_reasons_create_defaults(*, tenant: Tenant) -> list[ChurnReason]:
    """DOMAIN.md §10's reasons for a tenant (idempotent by name)."""
    reasons = []
    for name, category in DEFAULT_CHURN_REASONS:
        reason, _ = ChurnReason.objects.get_or_create(tenant=tenant, name=name, defaults={"category": category})
        reasons.append(reason)
    return reasons


def churn_reason_save(
    *, tenant: Tenant, reason: ChurnReason | None = None, name: str, category: str, needs_note: bool
) -> ChurnReason:
    """Add a reason (``reason=None``) or rename / re-file one. Names are unique per tenant."""
    name = name.strip()
    taken = ChurnReason.objects.filter(tenant=tenant, name__iexact=name)
    if reason is not None:
        taken = taken.exclude(pk=reason.pk)
    if taken.exists():
        raise ValidationError({"name": f"There is a reason called {name} already."})
    reason = reason or ChurnReason(tenant=tenant)
    reason.name, reason.category, reason.needs_note = name, category, needs_note
    reason.save()
    return reason


def churn_reason_retire(*, reason: ChurnReason, today: dt.date, retired: bool = True) -> ChurnReason:
    """Stop offering a reason (``retired=False`` offers it again); renewals closed with it keep it."""
    reason.retired_on = today if retired else None
    reason.save(update_fields=["retired_on"])
    return reason


def churn_reason_delete(*, reason: ChurnReason) -> None:
    """Delete a reason no renewal used; a used one can only be retired, so history stays intact."""
    if Renewal.objects.filter(tenant_id=reason.tenant_id, churn_reason=reason).exists():
        raise ValidationError(f"{reason} was used by closed renewals: retire it instead of deleting it.")
    reason.delete()


def churn_reasons_with_use(*, tenant: Tenant):
    """The tenant's reasons, each with ``use_count`` (renewals closed with it), in one query."""
    return ChurnReason.objects.filter(tenant=tenant).annotate(use_count=Count("renewals"))


# --- Expansion opportunities and settings ----------------------------------------------------


def expansion_opportunity_save(
    *,
    tenant: Tenant,
    account: Account,
    opportunity: ExpansionOpportunity | None = None,
    kind: str,
    product: Product,
    arr: Decimal,
    stage: str,
    expected_close: dt.date | None = None,
    owner: User | None = None,
) -> ExpansionOpportunity:
    """Add or update an upsell / cross-sell at ``account`` (both count as expansion)."""
    if account.tenant_id != tenant.pk or product.tenant_id != tenant.pk:
        raise ValueError("The account or the product belongs to another tenant.")
    if arr <= 0:
        raise ValidationError({"arr": "An opportunity adds ARR: enter an amount above 0."})
    opportunity = opportunity or ExpansionOpportunity(tenant=tenant, account=account)
    if opportunity.account_id != account.pk:
        raise ValueError("The opportunity belongs to another account.")
    opportunity.kind, opportunity.product, opportunity.arr = kind, product, arr
    opportunity.stage, opportunity.expected_close, opportunity.owner = stage, expected_close, owner
    opportunity.save()
    return opportunity


def retention_settings_get(*, tenant: Tenant) -> RetentionSettings:
    settings, _ = RetentionSettings.objects.get_or_create(tenant=tenant)
    return settings


def retention_settings_update(*, tenant: Tenant, nrr_target_percent: Decimal) -> RetentionSettings:
    if not Decimal("0") <= nrr_target_percent <= Decimal("300"):
        raise ValidationError({"nrr_target_percent": "Set a target between 0% and 300%."})
    settings = retention_settings_get(tenant=tenant)
    settings.nrr_target_percent = nrr_target_percent
    settings.save(update_fields=["nrr_target_percent"])
    return settings
