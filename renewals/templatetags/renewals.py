"""Template helpers of the renewals pages: ``{% load renewals %}``."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from accounts.services import can_edit_account, tenant_today

from ..queries import account_renewal_card
from ..services import can_work_renewal

register = template.Library()


@register.inclusion_tag("renewals/_account_card.html", takes_context=True)
def renewal_card(context) -> dict:
    """The account's next open renewal (date, days to go, ARR up, forecast) and its open
    expansion opportunities (count and ARR): one query."""
    request, account = context["request"], context["account"]
    tenant, membership = request.tenant, request.membership
    card = account_renewal_card(tenant=tenant, account=account)
    renewal = card.renewal
    days = renewal.days_to_renewal(tenant_today(tenant)) if renewal else None
    return {
        "request": request,
        "tenant": tenant,
        "account": account,
        "renewal": renewal,
        "days_to_renewal": days,
        "days_overdue": -days if days is not None and days < 0 else 0,
        "can_close": bool(renewal) and can_work_renewal(membership, renewal),
        "expansion_count": card.expansion_count,
        "expansion_arr": card.expansion_arr,
        "can_edit": can_edit_account(membership, account),
    }


@register.filter
def percent(value) -> str:
    """A ratio as a percentage with one decimal (0.7021 -> 70.2%); "—" when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value) * 100:.1f}%"


@register.simple_tag
def drill_url(period: str, slice_by: str, metric: str, value: str = "", back: int = 0) -> str:
    """The drill-down page listing the accounts behind one dashboard number (``back``: a trend
    point that many periods before the current one)."""
    query = {"period": period, "slice": slice_by, "metric": metric}
    if value:
        query["value"] = value
    if back:
        query["back"] = back
    return f"{reverse('renewals:drill')}?{urlencode(query)}"


@register.simple_tag
def reason_url(period: str, slice_by: str, reason: str, value=None) -> str:
    """The page listing the closed renewals behind one row of the churn-reasons table."""
    query = {"period": period, "slice": slice_by, "reason": reason}
    if value is not None:
        query["value"] = value
    return f"{reverse('renewals:reason_drill')}?{urlencode(query)}"
