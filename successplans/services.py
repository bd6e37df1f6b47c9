"""Writes of success plans, and who may make them. Keyword-only, typed, named ``<entity>_<verb>``.

A handoff's status moves only here: a write in the wrong state raises ``HandoffStateError``
with a message fit to show the user, and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts.models import Account, ActivityKind, Contact, LifecycleStage, Segment
from accounts.services import activity_log, tenant_today
from csplatform.models import Membership, Role, Tenant, User

from .models import (
    FIT_QUESTIONS,
    MAX_JOURNEYS_PER_SEGMENT,
    FitCategory,
    Handoff,
    HandoffStatus,
    ImpactJourney,
    ImpactReview,
    ImpactStatement,
    JourneyStep,
    Measure,
    Milestone,
    MilestoneStatus,
    OwnerSide,
    PlanShareLink,
    ReviewResult,
    SuccessPlan,
    fit_category,
)


class HandoffStateError(Exception):
    """A handoff action its current status does not allow."""


# --- Who may do what --------------------------------------------------------------------------


def can_draft_handoff(membership: Membership) -> bool:
    """Account executives draft and submit handoffs; leaders and admins may stand in for one."""
    return membership.is_sales or membership.is_leader


def can_edit_handoff(membership: Membership, handoff: Handoff) -> bool:
    """Its author (sales) or a leader / admin of its tenant."""
    if membership.tenant_id != handoff.tenant_id:
        return False
    return membership.is_leader or (membership.is_sales and handoff.author_id == membership.user_id)


def can_review_handoff(membership: Membership, handoff: Handoff) -> bool:
    """The account's owner CSM, or a leader / admin, accepts a handoff or sends it back."""
    return can_manage_plan(membership, handoff.account)


def can_manage_plan(membership: Membership, account: Account) -> bool:
    """The account's owner CSM, or a leader / admin of its tenant, edits its plan and reviews."""
    if membership.tenant_id != account.tenant_id or not membership.has_role(Role.CSM):
        return False
    return membership.is_leader or account.owner_id == membership.user_id


# --- Handoffs ----------------------------------------------------------------------------------


VENDOR_NAME_MESSAGE = "Leave our company's name out of the win story: it is the customer's story."


def win_story_vendor_check(*, tenant: Tenant, texts: dict[str, str]) -> None:
    """Raise ``ValidationError`` (by field) where a win story text names the tenant (whole
    words, any case): the win story is told without the vendor's name (DOMAIN.md §4)."""
    name = tenant.name.strip()
    if not name:
        return
    pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)
    errors = {field: VENDOR_NAME_MESSAGE for field, text in texts.items() if text and pattern.search(text)}
    if errors:
        raise ValidationError(errors)


def _impact_statements_replace(*, handoff: Handoff, statements: Iterable[dict]) -> None:
    handoff.impact_statements.all().delete()
    ImpactStatement.objects.bulk_create(
        ImpactStatement(tenant_id=handoff.tenant_id, handoff=handoff, **statement) for statement in statements
    )


def handoff_save(
    *,
    tenant: Tenant,
    author: User,
    handoff: Handoff | None = None,
    account: Account | None = None,
    fields: dict,
    impact_statements: Iterable[dict],
) -> Handoff:
    """Create a draft handoff of ``account`` (``handoff=None``) or update ``handoff`` while it
    is a draft or sent back. ``fields`` are the model's SPICED, fit and win-story fields;
    ``impact_statements`` replace the existing ones (dicts of statement, measure, baseline,
    target, unit). The fit category follows the answers. Refuses (``ValidationError``) a win
    story naming the tenant, and (``HandoffStateError``) a handoff under review or accepted."""
    win_story_vendor_check(
        tenant=tenant, texts={name: fields.get(name, "") for name in fields if name.startswith("win_")}
    )
    if handoff is None:
        if account is None or account.tenant_id != tenant.pk:
            raise ValueError("A new handoff needs an account of the tenant.")
        if Handoff.objects.filter(tenant=tenant, account=account).exists():
            raise ValidationError({"account": f"{account.name} has a handoff already."})
        if SuccessPlan.objects.filter(tenant=tenant, account=account).exists():
            # Accepting would have no plan to create: the account is past its handoff.
            raise ValidationError({"account": f"{account.name} has a joint impact plan already: no handoff needed."})
        handoff = Handoff(tenant=tenant, account=account, author=author)
    elif not handoff.is_editable:
        raise HandoffStateError(f"This handoff is {handoff.get_status_display().lower()}: it can no longer be edited.")
    answers_before = [getattr(handoff, name) for name in FIT_QUESTIONS]
    for name, value in fields.items():
        setattr(handoff, name, value)
    if [getattr(handoff, name) for name in FIT_QUESTIONS] != answers_before:
        # A leader acknowledged the fit check as it was; a changed one is theirs to see again.
        handoff.flag_acknowledged_by, handoff.flag_acknowledged_at, handoff.flag_note = None, None, ""
    handoff.fit_category = fit_category({name: getattr(handoff, name) for name in FIT_QUESTIONS})
    with transaction.atomic():
        handoff.save()
        _impact_statements_replace(handoff=handoff, statements=impact_statements)
    return handoff


def handoff_create_with_account(
    *,
    tenant: Tenant,
    author: User,
    name: str,
    domain: str = "",
    segment: Segment | None = None,
    customer_since: dt.date | None = None,
    fields: dict,
    impact_statements: Iterable[dict],
) -> Handoff:
    """Create a brand-new account (in the handoff stage, no CSM yet, pinned to ``segment`` when
    one is given, since it has no ARR to place it by) and its draft handoff, in one
    transaction: a refused handoff (``ValidationError``) leaves no account behind. Refuses
    (``ValidationError`` on ``new_account_name``) a name the tenant has already."""
    name = name.strip()
    if Account.objects.filter(tenant=tenant, name__iexact=name).exists():
        raise ValidationError({"new_account_name": f"{name} is an account already: choose it above."})
    if segment is not None and segment.tenant_id != tenant.pk:
        raise ValueError("The segment belongs to another tenant.")
    with transaction.atomic():
        account = Account.objects.create(
            tenant=tenant,
            name=name,
            domain=domain.strip(),
            segment=segment,
            segment_pinned=segment is not None,
            lifecycle_stage=LifecycleStage.HANDOFF,
            customer_since=customer_since,
        )
        return handoff_save(
            tenant=tenant, author=author, account=account, fields=fields, impact_statements=impact_statements
        )


SUBMIT_REQUIRED = ("situation", "pain", "impact", "critical_event", "critical_event_date", "decision_criteria")


def handoff_submit(*, handoff: Handoff, by: User) -> Handoff:
    """Hand the draft (or sent-back) handoff to CS. It must have the five SPICED parts, the
    critical event's date, a measurable impact statement and a complete fit check
    (``ValidationError`` naming what is missing otherwise)."""
    if not handoff.is_editable:
        raise HandoffStateError(f"This handoff is {handoff.get_status_display().lower()} already.")
    missing = [Handoff._meta.get_field(name).verbose_name for name in SUBMIT_REQUIRED if not getattr(handoff, name)]
    if not handoff.impact_statements.exists():
        missing.append("a measurable impact statement")
    if not handoff.fit_category:
        missing.append("every fit check answer")
    if missing:
        raise ValidationError(f"Fill in {', '.join(missing)} before submitting.")
    claimed = Handoff.objects.filter(
        tenant_id=handoff.tenant_id, pk=handoff.pk, status__in=[HandoffStatus.DRAFT, HandoffStatus.SENT_BACK]
    ).update(status=HandoffStatus.SUBMITTED, submitted_at=handoff.submitted_at or timezone.now())
    if not claimed:
        raise HandoffStateError("Someone changed this handoff meanwhile: reload the page.")
    handoff.refresh_from_db(fields=["status", "submitted_at"])
    return handoff


def handoff_send_back(*, handoff: Handoff, by: User, comment: str) -> Handoff:
    """Return a submitted handoff to sales with what to fix."""
    if not comment.strip():
        raise ValidationError({"comment": "Say what sales should fix."})
    claimed = Handoff.objects.filter(tenant_id=handoff.tenant_id, pk=handoff.pk, status=HandoffStatus.SUBMITTED).update(
        status=HandoffStatus.SENT_BACK, review_comment=comment.strip(), reviewed_by=by, reviewed_at=timezone.now()
    )
    if not claimed:
        raise HandoffStateError(
            f"Only a submitted handoff can be sent back; this one is {handoff.get_status_display()}."
        )
    handoff.refresh_from_db()
    return handoff


def handoff_flag_acknowledge(*, handoff: Handoff, by: User, note: str) -> Handoff:
    """A leader acknowledges a bad-fit handoff flagged to them, saying what they decided (go
    ahead with extra support, renegotiate the scope...). Records who and when; the handoff
    leaves the flagged list. Refuses (``HandoffStateError``) a handoff that is not flagged."""
    if not note.strip():
        raise ValidationError({"note": "Say what you decided about this bad fit."})
    claimed = (
        Handoff.objects.filter(
            tenant_id=handoff.tenant_id, pk=handoff.pk, fit_category=FitCategory.BAD, flag_acknowledged_at__isnull=True
        )
        .exclude(status=HandoffStatus.DRAFT)
        .update(flag_acknowledged_by=by, flag_acknowledged_at=timezone.now(), flag_note=note.strip())
    )
    if not claimed:
        raise HandoffStateError("This handoff is not flagged as a bad fit (any more): nothing to acknowledge.")
    handoff.refresh_from_db(fields=["flag_acknowledged_by", "flag_acknowledged_at", "flag_note"])
    return handoff


def handoff_accept(
    *, handoff: Handoff, by: User, start_date: dt.date, journey: ImpactJourney | None = None
) -> SuccessPlan:
    """Accept a submitted handoff and create the account's joint impact plan, starting on
    ``start_date``: its milestones seeded from ``journey`` (default: the first journey of the
    account's segment), its measures from the handoff's impact statements. One transaction;
    the status is claimed first, so a double click creates one plan."""
    account = handoff.account
    if journey is not None and (journey.tenant_id != handoff.tenant_id or journey.segment_id != account.segment_id):
        raise ValidationError({"journey": "Choose one of the journeys of the account's segment."})
    with transaction.atomic():
        claimed = Handoff.objects.filter(
            tenant_id=handoff.tenant_id, pk=handoff.pk, status=HandoffStatus.SUBMITTED
        ).update(status=HandoffStatus.ACCEPTED, reviewed_by=by, reviewed_at=timezone.now())
        if not claimed:
            raise HandoffStateError(
                f"Only a submitted handoff can be accepted; this one is {handoff.get_status_display()}."
            )
        if SuccessPlan.objects.filter(tenant_id=handoff.tenant_id, account=account).exists():
            raise HandoffStateError(f"{account.name} has a plan already.")
        if journey is None and account.segment_id is not None:
            journey = ImpactJourney.objects.filter(tenant_id=handoff.tenant_id, segment_id=account.segment_id).first()
        plan = plan_create(
            tenant=handoff.tenant, account=account, start_date=start_date, journey=journey, handoff=handoff
        )
        Measure.objects.bulk_create(
            Measure(
                tenant_id=handoff.tenant_id,
                plan=plan,
                name=statement.measure,
                unit=statement.unit,
                baseline=statement.baseline,
                target=statement.target,
                current=statement.baseline,
            )
            for statement in handoff.impact_statements.all()
        )
    handoff.refresh_from_db()
    return plan


# --- Plans ----------------------------------------------------------------------------------------


def plan_create(
    *,
    tenant: Tenant,
    account: Account,
    start_date: dt.date,
    journey: ImpactJourney | None = None,
    handoff: Handoff | None = None,
) -> SuccessPlan:
    """Create ``account``'s plan starting ``start_date``, with one milestone for each step
    of ``journey`` due ``start_date + step.due_after_days``, owned by the account's CSM when
    the step is ours. The First Value goal and target date start as the First Value step's
    title and due date."""
    if account.tenant_id != tenant.pk or (journey is not None and journey.tenant_id != tenant.pk):
        raise ValueError("The account and the journey must be the tenant's.")
    with transaction.atomic():
        plan = SuccessPlan.objects.create(
            tenant=tenant, account=account, start_date=start_date, journey=journey, handoff=handoff
        )
        if journey is not None:
            milestones = [
                Milestone(
                    tenant=tenant,
                    plan=plan,
                    title=step.title,
                    owner_side=step.owner_side,
                    owner_user_id=account.owner_id if step.owner_side == OwnerSide.US else None,
                    due_date=start_date + dt.timedelta(days=step.due_after_days),
                    is_first_value=step.is_first_value,
                )
                for step in journey.steps.all()
            ]
            Milestone.objects.bulk_create(milestones)
            first_value = next((m for m in milestones if m.is_first_value), None)
            if first_value is not None:
                # A starting point the CSM then agrees with the customer in their words.
                plan.first_value_goal = first_value.title
                plan.first_value_target_date = first_value.due_date
                plan.save(update_fields=["first_value_goal", "first_value_target_date", "updated_at"])
        _health_recompute_soon(plan)
    return plan


def _health_recompute_soon(plan: SuccessPlan) -> None:
    """Milestones on track feed the account's health score (CSM actions): queue a recompute of
    the account after commit. Looked up by name: health imports this module, not the reverse."""
    import_string("health.services.health_recompute_soon")(tenant_id=plan.tenant_id, account_id=plan.account_id)


def plan_update(*, plan: SuccessPlan, **fields) -> SuccessPlan:
    """Save the plan's goals, dates and next steps (any of ``PLAN_FIELDS``)."""
    unknown = set(fields) - set(PLAN_FIELDS)
    if unknown:
        raise ValueError(f"Not plan fields: {sorted(unknown)}")
    for name, value in fields.items():
        setattr(plan, name, value)
    plan.save(update_fields=[*fields, "updated_at"])
    return plan


PLAN_FIELDS = (
    "first_value_goal",
    "first_value_target_date",
    "first_value_met_on",
    "twelve_month_goal",
    "next_steps",
    "next_review_date",
)


def _owner_check(*, plan: SuccessPlan, owner_side: str, owner_user: User | None, owner_contact: Contact | None) -> None:
    errors = {}
    if owner_user is not None and owner_contact is not None:
        errors["owner_contact"] = "Choose one owner: one of our people or one of theirs."
    if owner_user is not None and owner_side != OwnerSide.US:
        errors["owner_user"] = "A customer-side milestone is owned by one of their contacts."
    if owner_contact is not None and owner_side != OwnerSide.CUSTOMER:
        errors["owner_contact"] = "Our milestone is owned by one of our people."
    if owner_user is not None and not Membership.objects.filter(tenant_id=plan.tenant_id, user=owner_user).exists():
        errors["owner_user"] = "The owner must be a member of your company."
    if owner_contact is not None and owner_contact.account_id != plan.account_id:
        errors["owner_contact"] = "The owner must be a contact of this account."
    if errors:
        raise ValidationError(errors)


def milestone_save(
    *,
    plan: SuccessPlan,
    milestone: Milestone | None = None,
    title: str,
    owner_side: str,
    owner_user: User | None = None,
    owner_contact: Contact | None = None,
    due_date: dt.date,
    status: str,
    done_on: dt.date | None = None,
    is_first_value: bool = False,
    today: dt.date | None = None,
) -> Milestone:
    """Add a milestone to ``plan`` or update one of its milestones. A milestone marked done
    gets ``done_on`` (default today); one reopened loses it. Completing the First Value
    milestone records First Value met on the plan (if not yet met), which TTFV counts to."""
    _owner_check(plan=plan, owner_side=owner_side, owner_user=owner_user, owner_contact=owner_contact)
    if milestone is None:
        milestone = Milestone(tenant_id=plan.tenant_id, plan=plan)
    elif milestone.plan_id != plan.pk:
        raise ValueError("The milestone belongs to another plan.")
    today = today or tenant_today(plan.tenant)
    done_on = (done_on or milestone.done_on or today) if status == MilestoneStatus.DONE else None
    milestone.title, milestone.owner_side, milestone.due_date = title, owner_side, due_date
    milestone.owner_user, milestone.owner_contact = owner_user, owner_contact
    milestone.status, milestone.done_on, milestone.is_first_value = status, done_on, is_first_value
    with transaction.atomic():
        milestone.save()
        if is_first_value and done_on and plan.first_value_met_on is None:
            plan_update(plan=plan, first_value_met_on=done_on)
        _health_recompute_soon(plan)
    return milestone


def milestone_status_set(
    *, plan: SuccessPlan, milestone: Milestone, status: str, today: dt.date | None = None
) -> Milestone:
    """Move a milestone to ``status`` and nothing else (``milestone_save``'s rules: done today,
    reopened loses its done date, the First Value milestone done records First Value met)."""
    return milestone_save(
        plan=plan,
        milestone=milestone,
        title=milestone.title,
        owner_side=milestone.owner_side,
        owner_user=milestone.owner_user,
        owner_contact=milestone.owner_contact,
        due_date=milestone.due_date,
        status=status,
        is_first_value=milestone.is_first_value,
        today=today,
    )


def measure_current_set(*, plan: SuccessPlan, measure: Measure, current: Decimal) -> Measure:
    """Record a measure's current value (between reviews; a review records it too)."""
    if measure.plan_id != plan.pk:
        raise ValueError("The measure belongs to another plan.")
    measure.current = current
    measure.save(update_fields=["current", "updated_at"])
    return measure


def milestone_delete(*, milestone: Milestone) -> None:
    plan = milestone.plan
    with transaction.atomic():
        milestone.delete()
        _health_recompute_soon(plan)


def measure_save(
    *,
    plan: SuccessPlan,
    measure: Measure | None = None,
    name: str,
    unit: str = "",
    baseline: Decimal | None = None,
    target: Decimal,
    current: Decimal | None = None,
) -> Measure:
    """Add a customer-chosen measure to ``plan`` or update one of its measures."""
    if measure is None:
        measure = Measure(tenant_id=plan.tenant_id, plan=plan)
    elif measure.plan_id != plan.pk:
        raise ValueError("The measure belongs to another plan.")
    measure.name, measure.unit = name, unit
    measure.baseline, measure.target, measure.current = baseline, target, current
    measure.save()
    return measure


def plan_share_link_create(*, plan: SuccessPlan, by: User) -> PlanShareLink:
    """A new read-only link to the plan's customer-facing view; any earlier link of the plan
    stops working (one live link a plan)."""
    with transaction.atomic():
        plan_share_link_revoke(plan=plan)
        return PlanShareLink.objects.create(
            token=secrets.token_urlsafe(32), tenant_id=plan.tenant_id, plan=plan, created_by=by
        )


def plan_share_link_revoke(*, plan: SuccessPlan) -> int:
    """Revoke the plan's live links; the shared page is 404 from now on. Returns how many."""
    return PlanShareLink.objects.filter(tenant_id=plan.tenant_id, plan=plan, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


# --- Impact journeys ------------------------------------------------------------------------------


def journey_save(
    *,
    tenant: Tenant,
    journey: ImpactJourney | None = None,
    segment,
    name: str,
    description: str = "",
    position: int = 0,
    steps: list[dict],
) -> ImpactJourney:
    """Create or update a segment's impact journey and replace its steps (dicts of title,
    owner_side, due_after_days, is_first_value). A segment holds at most
    ``MAX_JOURNEYS_PER_SEGMENT`` journeys and a journey at most one First Value step."""
    if segment.tenant_id != tenant.pk:
        raise ValueError("The segment belongs to another tenant.")
    others = ImpactJourney.objects.filter(tenant=tenant, segment=segment)
    if journey is not None:
        others = others.exclude(pk=journey.pk)
    if others.count() >= MAX_JOURNEYS_PER_SEGMENT:
        raise ValidationError(
            {"segment": f"{segment.name} has {MAX_JOURNEYS_PER_SEGMENT} journeys already: keep them few, edit one."}
        )
    if others.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"{segment.name} has a journey called {name} already."})
    if sum(1 for step in steps if step.get("is_first_value")) > 1:
        raise ValidationError("Mark one step as First Value, not several.")
    journey = journey or ImpactJourney(tenant=tenant)
    journey.segment, journey.name, journey.description, journey.position = segment, name, description, position
    with transaction.atomic():
        journey.save()
        journey.steps.all().delete()
        JourneyStep.objects.bulk_create(JourneyStep(tenant=tenant, journey=journey, **step) for step in steps)
    return journey


def journey_delete(*, journey: ImpactJourney) -> None:
    """Delete a journey; plans it seeded keep their milestones."""
    journey.delete()


# --- Impact reviews -------------------------------------------------------------------------------


def spiced_summary(handoff: Handoff | None) -> str:
    """The SPICED restated in a few lines, as every review opens with it."""
    if handoff is None:
        return ""
    parts = [
        ("Situation", handoff.situation),
        ("Pain", handoff.pain),
        ("Impact", handoff.impact),
        (
            "Critical event",
            f"{handoff.critical_event} (by {handoff.critical_event_date:%d %b %Y})"
            if handoff.critical_event_date
            else handoff.critical_event,
        ),
        ("Decision criteria", handoff.decision_criteria),
    ]
    return "\n".join(f"{label}: {text}" for label, text in parts if text)


def goals_summary(plan: SuccessPlan) -> str:
    lines = []
    if plan.first_value_goal:
        target = f" (by {plan.first_value_target_date:%d %b %Y})" if plan.first_value_target_date else ""
        lines.append(f"First Value: {plan.first_value_goal}{target}")
    if plan.twelve_month_goal:
        lines.append(f"12-month goal: {plan.twelve_month_goal}")
    return "\n".join(lines)


def impact_review_record(
    *,
    plan: SuccessPlan,
    author: User,
    kind: str,
    held_on: dt.date,
    results: str,
    objectives: str,
    next_steps: str,
    next_review_date: dt.date,
    measure_values: dict[int, Decimal],
    team: Iterable[User] = (),
    contacts: Iterable[Contact] = (),
) -> ImpactReview:
    """Record a QBR / EBR: it keeps the SPICED summary and the goals as they stand, stores each
    measure's reported value (``measure_values``: measure id -> value; the measure's current
    value follows), sets the plan's next review date and next steps, and logs a QBR / EBR
    activity on the account's timeline (which counts as a touch). One transaction."""
    measures = {m.pk: m for m in plan.measures.all()}
    if set(measure_values) - set(measures):
        raise ValueError("measure_values names a measure of another plan.")
    if next_review_date <= held_on:
        raise ValidationError({"next_review_date": "The next review comes after this one."})
    with transaction.atomic():
        summary = "\n\n".join(
            text
            for text in (f"Results: {results}" if results else "", f"Objectives for next time: {objectives}")
            if text
        )
        activity = activity_log(
            tenant=plan.tenant,
            account=plan.account,
            author=author,
            kind=ActivityKind.EBR if kind == ActivityKind.EBR else ActivityKind.QBR,
            occurred_at=timezone.make_aware(dt.datetime.combine(held_on, dt.time(12, 0))),
            purpose=f"Impact review: results against the plan's goals and objectives for {next_review_date:%d %b %Y}",
            summary=summary,
            next_step=next_steps.splitlines()[0][:300] if next_steps.strip() else "",
            next_step_due=next_review_date if next_steps.strip() else None,
            team=list(team) or [author],
            contacts=contacts,
        )
        review = ImpactReview.objects.create(
            tenant_id=plan.tenant_id,
            plan=plan,
            kind=kind,
            held_on=held_on,
            spiced_summary=spiced_summary(plan.handoff),
            goals_summary=goals_summary(plan),
            results=results,
            objectives=objectives,
            next_steps=next_steps,
            next_review_date=next_review_date,
            activity=activity,
            created_by=author,
        )
        ReviewResult.objects.bulk_create(
            ReviewResult(
                tenant_id=plan.tenant_id, review=review, measure_id=pk, previous=measures[pk].current, value=value
            )
            for pk, value in measure_values.items()
        )
        for pk, value in measure_values.items():
            measures[pk].current = value
        Measure.objects.bulk_update([measures[pk] for pk in measure_values], ["current"])
        plan_update(plan=plan, next_review_date=next_review_date, next_steps=next_steps)
    return review


# --- Read for the Health issue ---------------------------------------------------------------------


def milestone_counts_by_account(*, tenant: Tenant, account_ids=None, today: dt.date) -> QuerySet:
    """One row per account with a joint impact plan: ``account_id``, ``due_count`` (milestones
    due before ``today``) and ``done_count`` (those of them done). A grouped queryset, so the
    health recompute can join it into its one statement; ``account_ids`` narrows it."""
    plans = SuccessPlan.objects.filter(tenant=tenant)
    if account_ids is not None:
        plans = plans.filter(account_id__in=list(account_ids))
    due = Q(milestones__due_date__lt=today)
    return (
        plans.order_by()
        .values("account_id")
        .annotate(
            due_count=Count("milestones", filter=due),
            done_count=Count("milestones", filter=due & Q(milestones__status=MilestoneStatus.DONE)),
        )
    )


def milestones_on_track_by_account(*, tenant: Tenant, account_ids=None, today: dt.date | None = None) -> dict:
    """For each account with a joint impact plan: the share (0.0-1.0) of its plan's *due*
    milestones that are done, where a milestone is due once its due date is before ``today``
    (default: the tenant's today). A plan with no due milestone yet scores 1.0 (nothing has
    slipped). Accounts without a plan are left out of the dict: there is no measure for them.
    One grouped query whatever the number of accounts; ``account_ids`` narrows it."""
    today = today or tenant_today(tenant)
    rows = milestone_counts_by_account(tenant=tenant, account_ids=account_ids, today=today)
    return {row["account_id"]: (row["done_count"] / row["due_count"] if row["due_count"] else 1.0) for row in rows}


def relationship_target_set(*, tenant: Tenant, new_relationships_per_month: int):
    """Set how many new relationships a CSM should add each month (upsert, one row a tenant)."""
    from .models import RelationshipSettings

    row, _ = RelationshipSettings.objects.update_or_create(
        tenant=tenant, defaults={"new_relationships_per_month": new_relationships_per_month}
    )
    return row
