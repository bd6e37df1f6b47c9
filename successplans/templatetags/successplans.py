"""The success-plan card of the Account 360 page: ``{% load successplans %}{% success_plan_card %}``."""

from __future__ import annotations

from django import template
from django.db.models import Count, Q

from accounts.models import ContactEvent
from accounts.services import tenant_today

from ..models import Handoff, MilestoneStatus, SuccessPlan
from ..queries import PlanStatus, account_coverage
from ..services import can_manage_plan

register = template.Library()


@register.inclusion_tag("successplans/_account_card.html", takes_context=True)
def success_plan_card(context) -> dict:
    """The account's plan (on track or at risk, TTFV) or else its handoff, its relationship
    coverage with the 3x3 map for high-touch accounts, and its key-contact events: three
    queries (four for an account without a plan), reusing the contacts the page loaded."""
    request, account = context["request"], context["account"]
    tenant = request.tenant
    today = tenant_today(tenant)
    plan = (
        SuccessPlan.objects.filter(tenant=tenant, account=account)
        # What the card prints (TTFV counts from these dates): each column costs on every page.
        .only("start_date", "first_value_goal", "first_value_met_on")
        .annotate(
            milestone_count=Count("milestones"),
            done_count=Count("milestones", filter=Q(milestones__status=MilestoneStatus.DONE)),
            overdue_count=Count(
                "milestones", filter=Q(milestones__due_date__lt=today) & ~Q(milestones__status=MilestoneStatus.DONE)
            ),
        )
        .first()
    )
    if plan is not None:
        plan.account = account  # TTFV counts from the account's contract start: no query for it
    # Only what the card prints of a handoff (it has some thirty columns).
    handoff = (
        None if plan else Handoff.objects.filter(tenant=tenant, account=account).only("status", "fit_category").first()
    )
    page_contacts = context.get("contact_groups")
    contacts = [c for _, group in page_contacts for c in group] if page_contacts is not None else None
    return {
        "request": request,
        "account": account,
        "handoff": handoff,
        "plan": plan,
        "plan_status": PlanStatus(plan.milestone_count, plan.done_count, plan.overdue_count) if plan else None,
        "coverage": account_coverage(tenant=tenant, account=account, today=today, contacts=contacts),
        "events": list(
            ContactEvent.objects.filter(tenant=tenant, account=account)
            .select_related("contact")
            .only("kind", "previous_role", "new_role", "occurred_on", "note", "contact", "contact__name")[:5]
        ),
        "can_manage": can_manage_plan(request.membership, account),
    }
