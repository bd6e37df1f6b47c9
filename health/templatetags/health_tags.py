"""``{% load health_tags %}``: the health card on Account 360 and the small band pill."""

from django import template

from accounts.services import can_edit_account, tenant_today
from csplatform.models import Role

from ..forms import OWNER_ONLY_SIGNALS, SIGNAL_FORMS, PulseForm
from ..queries import health_card

register = template.Library()


@register.inclusion_tag("health/_card.html", takes_context=True)
def account_health_card(context, account):
    """Score, band, each measure's raw value and contribution, what pulled it down most, the
    90-day trend and why it changed against 7 and 30 days ago. Three queries."""
    request = context["request"]
    today = tenant_today(request.tenant)
    card = health_card(tenant=request.tenant, account=account, today=today)
    can_set_pulse = can_edit_account(request.membership, account)
    signal_kinds = []
    if request.membership.has_role(Role.CSM):
        signal_kinds = [
            (kind, form.title) for kind, form in SIGNAL_FORMS.items() if kind not in OWNER_ONLY_SIGNALS or can_set_pulse
        ]
    return {
        "account": account,
        "card": card,
        "trend_points": [{"day": s.day.isoformat(), "score": s.score} for s in card.trend],
        "can_set_pulse": can_set_pulse,
        "signal_kinds": signal_kinds,
        "pulse_form": PulseForm(today=today) if can_set_pulse else None,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("health/_band.html")
def health_band(band: str, score=None):
    return {"band": band, "score": score}


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
