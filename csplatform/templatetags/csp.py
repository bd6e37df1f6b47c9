"""Small presentation helpers shared by every page: ``{% load csp %}``."""

import functools
from decimal import Decimal

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import get_script_prefix, reverse
from django.utils.formats import date_format
from django.utils.translation import get_language

from csplatform.rendering import url_for_each

register = template.Library()

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "AUD": "A$", "CAD": "C$", "CHF": "CHF "}


@register.filter
def money(value, currency: str = "USD") -> str:
    """Whole currency units with thousands separators: ``{{ account.arr|money:tenant.currency }}``."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value).quantize(Decimal("1"))
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if amount < 0 else ""
    return f"{sign}{symbol}{_grouped(abs(int(amount)))}"


def _grouped(number: int) -> str:
    # intcomma's output for the one language the site runs in (LANGUAGE_CODE, no locale
    # middleware), without its locale lookups: a page of 50 accounts formats over 50 amounts.
    if get_language() in ("en-us", "en", None):
        return f"{number:,}"
    return intcomma(number)


@register.filter
def day_month_year(value) -> str:
    """``{{ day|day_month_year }}``: the same text as ``|date:"j M Y"`` (24 Nov 2026), computed
    once per day and language: a page of accounts prints the same few hundred days again and
    again, and Django's date formatting is slow in a loop."""
    if not value:
        return ""
    return _day_month_year(value, get_language())


@functools.lru_cache(maxsize=4096)
def _day_month_year(value, language: str | None) -> str:
    return date_format(value, "j M Y")


@register.filter
def iso_day(value) -> str:
    """``{{ day|iso_day }}`` for a date (not a datetime): the same text as ``|date:"Y-m-d"``
    (2026-11-24) for a ``<time datetime>``, without a trip through Django's date formatting."""
    if not value:
        return ""
    return value.isoformat()


@register.filter
def money_short(value, currency: str = "USD") -> str:
    """Compact money for dense tables and charts: $1.2M, $350K."""
    if value is None or value == "":
        return "—"
    amount = Decimal(value)
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    for limit, suffix in ((Decimal("1e9"), "B"), (Decimal("1e6"), "M"), (Decimal("1e3"), "K")):
        if abs(amount) >= limit:
            return f"{symbol}{(amount / limit):.1f}{suffix}".replace(".0" + suffix, suffix)
    return f"{symbol}{int(amount)}"


@register.simple_tag(takes_context=True)
def query_string(context, **changes) -> str:
    """The current query string with some parameters changed (empty value = removed);
    keeps filters when a link changes only the sort or the page."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag
def path_to(viewname: str) -> str:
    """``{% url viewname %}`` for a URL without arguments, resolved once per process (and
    script prefix): the navigation on every page has a dozen of them."""
    return _path_to(viewname, get_script_prefix())


@functools.lru_cache(maxsize=256)
def _path_to(viewname: str, script_prefix: str) -> str:
    return reverse(viewname)


@register.simple_tag
def path_with_id(viewname: str, id_kwarg: str, pk) -> str:
    """``{% url viewname id_kwarg=pk %}`` for a URL with a single id, its pattern resolved once
    per process (and script prefix): a list of tasks builds three such URLs for every row."""
    return _path_with_id(viewname, id_kwarg, get_script_prefix())(pk)


@functools.lru_cache(maxsize=256)
def _path_with_id(viewname: str, id_kwarg: str, script_prefix: str):
    return url_for_each(viewname, id_kwarg)
