"""``{% load health_tags %}``: the health card on Account 360 and the small band pill."""

import functools
from types import SimpleNamespace

from django import template
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.services import can_edit_account, tenant_today
from csplatform.models import Role

from ..forms import OWNER_ONLY_SIGNALS, SIGNAL_FORMS, PulseForm
from ..queries import health_card

register = template.Library()


@register.inclusion_tag("health/_card.html", takes_context=True)
def account_health_card(context, account):
    """Score, band, each measure's raw value and contribution, what pulled it down most, the
    90-day trend and why it changed against 7 and 30 days ago. Two queries."""
    request = context["request"]
    today = tenant_today(request.tenant)
    card = health_card(tenant=request.tenant, account=account, today=today)
    can_set_pulse = can_edit_account(request.membership, account)
    signal_links = []
    if request.membership.has_role(Role.CSM):
        # Each link's address once, for both its href and its hx-get.
        signal_links = [
            (reverse("health:signal_record", kwargs={"account_id": account.pk, "kind": kind}), form.title)
            for kind, form in SIGNAL_FORMS.items()
            if kind not in OWNER_ONLY_SIGNALS or can_set_pulse
        ]
    return {
        "account": account,
        "card": card,
        "trend_points": [{"day": s.day.isoformat(), "score": s.score} for s in card.trend],
        "can_set_pulse": can_set_pulse,
        "signal_links": signal_links,
        "pulse_form": PulseForm(today=today) if can_set_pulse else None,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("health/_band.html")
def health_band(band: str, score=None):
    return {"band": band, "score": score}


@register.simple_tag
def health_cell(health) -> str:
    """A portfolio row's health cell (``health/_portfolio_cell.html``): band pill, score and the
    7-day move. The cell depends on those three values only, so each combination is rendered
    once per process: a page of 50 rows rendered the template (and the pill's) 100 times."""
    if not health:  # no score row: the template variable resolves to ""
        return _health_cell(None, None, None)
    return _health_cell(health.band, health.score, health.change_7d)


@functools.lru_cache(maxsize=4096)
def _health_cell(band: str | None, score: int | None, change_7d: int | None) -> str:
    health = None if band is None else SimpleNamespace(band=band, score=score, change_7d=change_7d)
    return render_to_string("health/_portfolio_cell.html", {"health": health})


@register.filter
def raw_value(row: dict) -> str:
    """A measure's raw value as the card prints it."""
    raw = row["raw"]
    if raw is None:
        return "no data"
    if row["unit"] == "sentiment":
        return {1: "positive", 0: "neutral", -1: "negative"}.get(int(raw), str(raw))
    if row["unit"] == "days":
        return "365+ days" if raw >= 365 else f"{raw:g} day{'s' if raw != 1 else ''}"
    if row["unit"] == "%":
        return f"{raw:g}%"
    return f"{raw:g} {row['unit']}".strip()
