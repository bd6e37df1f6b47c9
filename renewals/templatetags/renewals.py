"""Template helpers of the renewals pages: ``{% load renewals %}``."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from django import template
from django.urls import reverse

register = template.Library()


@register.filter
def percent(value) -> str:
    """A ratio as a percentage with one decimal (0.7021 -> 70.2%); "—" when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{float(value) * 100:.1f}%"


@register.simple_tag
def drill_url(period: str, slice_by: str, metric: str, value: str = "") -> str:
    """The drill-down page listing the accounts behind one dashboard number."""
    query = {"period": period, "slice": slice_by, "metric": metric}
    if value:
        query["value"] = value
    return f"{reverse('renewals:drill')}?{urlencode(query)}"
