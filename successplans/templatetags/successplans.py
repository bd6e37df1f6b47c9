"""The success-plan card of the Account 360 page: ``{% load successplans %}{% success_plan_card %}``."""

from __future__ import annotations

from django import template

from accounts.services import tenant_today

from ..queries import account_coverage, account_plan_card, key_contact_changes
from ..services import can_manage_plan

register = template.Library()


@register.inclusion_tag("successplans/_account_card.html", takes_context=True)
def success_plan_card(context) -> dict:
    """The account's plan (on track or at risk, TTFV) or else its handoff, its relationship
    coverage with the 3x3 map for high-touch accounts, and its key-contact events: three
    queries, reusing the contacts the page loaded."""
    request, account = context["request"], context["account"]
    tenant = request.tenant
    today = tenant_today(tenant)
    card = account_plan_card(tenant=tenant, account=account, today=today)
    page_contacts = context.get("contact_groups")
    contacts = [c for _, group in page_contacts for c in group] if page_contacts is not None else None
    return {
        "request": request,
        "account": account,
        "handoff": card.handoff,
        "plan": card.plan,
        "plan_status": card.status,
        "coverage": account_coverage(tenant=tenant, account=account, today=today, contacts=contacts),
        "events": key_contact_changes(tenant=tenant, account=account),
        "can_manage": can_manage_plan(request.membership, account),
    }
