"""``{% load playbooks %}``: the playbooks card on Account 360 and the task badge in the
navigation."""

from __future__ import annotations

from django import template

from accounts.services import tenant_today
from csplatform.models import Role

from ..queries import account_playbooks, open_tasks_due_count
from ..services import can_work_task

register = template.Library()


@register.inclusion_tag("playbooks/_account_card.html", takes_context=True)
def playbooks_card(context) -> dict:
    """The account's open tasks (complete them here) and its alert history: which trigger
    fired when, the tasks it made and their state, its automated e-mails. Two queries for
    an account with no alert yet, three otherwise."""
    request, account = context["request"], context["account"]
    membership = request.membership
    data = account_playbooks(tenant=request.tenant, account=account)
    workable = {
        task.pk for task in data.open_tasks if can_work_task(membership, task, account_owner_id=account.owner_id)
    }
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "account": account,
        "data": data,
        "workable": workable,
        "today": tenant_today(request.tenant),
        "where": "card",
        "show_account": False,
        "show_assignee": True,
    }


@register.simple_tag(takes_context=True)
def open_task_badge_count(context) -> int | None:
    """The signed-in CSM's open tasks overdue or due today (snoozed ones left out): one COUNT
    over the (tenant, assignee, status, due_on) index. None for members who do not work tasks."""
    request = context.get("request")
    membership = getattr(request, "membership", None)
    if membership is None or not membership.has_role(Role.CSM):
        return None
    return open_tasks_due_count(tenant=request.tenant, user=request.user, today=tenant_today(request.tenant))
