"""Small presentation helpers shared by every page: ``{% load csp %}``."""

from decimal import Decimal

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma

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
    return f"{sign}{symbol}{intcomma(abs(int(amount)))}"


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
