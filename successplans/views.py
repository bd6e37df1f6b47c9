"""Pages of the SPICED handoff, the joint impact plan, impact reviews and impact journeys.

Thin views: fetch through ``get_for_tenant_or_404`` (another tenant's id is a 404), check the
role rule of ``successplans.services`` (a refusal is a 403), validate with a form, act with a
service, render. A write in the wrong state comes back as a message, not an error page.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Account
from accounts.services import tenant_today
from csplatform.models import Role
from csplatform.rendering import htmx_partial, render_page
from csplatform.tenancy import get_for_tenant_or_404, member_required, role_required, tenant_scope

from . import services
from .forms import (
    AcceptForm,
    FlagAcknowledgeForm,
    HandoffForm,
    ImpactReviewForm,
    JourneyForm,
    MeasureCurrentForm,
    MeasureForm,
    MilestoneForm,
    MilestoneQuickAddForm,
    MilestoneStatusForm,
    PlanForm,
    SendBackForm,
    impact_formset,
    impact_statements_of,
    journey_steps_formset,
)
from .models import (
    FIT_QUESTIONS,
    Handoff,
    HandoffStatus,
    ImpactJourney,
    ImpactReview,
    Measure,
    Milestone,
    MilestoneStatus,
    OwnerSide,
    PlanShareLink,
    SuccessPlan,
)
from .queries import handoffs_listed, plan_status, plan_with_parts

FORM_PAGE = "successplans/form_page.html"


def _posted(request: HttpRequest):
    return request.POST if request.method == "POST" else None


def _handoff_of(request: HttpRequest, handoff_id: int) -> Handoff:
    return get_for_tenant_or_404(
        Handoff.objects.select_related(
            "account", "account__owner", "account__segment", "author", "reviewed_by", "flag_acknowledged_by"
        ),
        request,
        pk=handoff_id,
    )


def _plan_of(request: HttpRequest, plan_id: int) -> SuccessPlan:
    return get_for_tenant_or_404(SuccessPlan.objects.select_related("account", "tenant"), request, pk=plan_id)


def _require(allowed: bool, reason: str) -> None:
    if not allowed:
        raise PermissionDenied(reason)


def _require_plan_manager(request: HttpRequest, plan: SuccessPlan) -> None:
    _require(
        services.can_manage_plan(request.membership, plan.account),
        "Only the account's owner CSM, a CS leader or an admin can change its plan.",
    )


def _form_page(
    request: HttpRequest, *, title: str, form, back_url: str, status: int | None = None, **extra
) -> HttpResponse:
    """The shared form page. Reached on a GET, or on a POST whose form did not save: that is
    a 422 (htmx swaps it in with its field errors) unless the caller says otherwise."""
    if status is None:
        status = 422 if request.method == "POST" else 200
    context = {"title": title, "form": form, "back_url": back_url, "action": request.path, **extra}
    return render_page(request, FORM_PAGE, context, partial="form", status=status)


def _plan_part_form(
    request: HttpRequest, plan: SuccessPlan, form, *, save, saved, title: str, submit_label: str
) -> HttpResponse:
    """A form for one part of a plan (goals, a milestone, a measure): on a valid POST ``save()``
    runs, ``saved()`` gives the confirmation and the plan page follows; a service's
    ``ValidationError`` shows on the form."""
    if request.method == "POST" and form.is_valid():
        try:
            save()
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, saved())
            return redirect("successplans:plan_detail", plan_id=plan.pk)
    return _form_page(request, title=title, form=form, back_url=_plan_url(plan), submit_label=submit_label)


# --- Handoffs ---------------------------------------------------------------------------------------


@member_required
@require_GET
def handoff_list(request: HttpRequest) -> HttpResponse:
    """Every handoff of the tenant with its age, completeness, fit and status; ``?status=``
    filters and ``?flagged=1`` keeps the bad-fit handoffs flagged to leaders."""
    status = request.GET.get("status", "")
    status = status if status in HandoffStatus.values else ""
    flagged = request.GET.get("flagged") == "1"
    today = tenant_today(request.tenant)
    handoffs = list(handoffs_listed(tenant=request.tenant, status=status, flagged=flagged)[:500])
    rows = [
        {
            "handoff": handoff,
            "age_days": handoff.age_days(today),
            "completeness": handoff.completeness_percent(impact_statement_count=handoff.impact_count),
        }
        for handoff in handoffs
    ]
    context = {
        "nav": "handoffs",
        "rows": rows,
        "status": status,
        "flagged": flagged,
        "statuses": HandoffStatus.choices,
        "can_draft": services.can_draft_handoff(request.membership),
        "flagged_count": handoffs_listed(tenant=request.tenant, flagged=True).count()
        if request.membership.is_leader
        else None,
    }
    return render_page(request, "successplans/handoff_list.html", context, partial="results")


@member_required
@require_GET
def handoff_list_export(request: HttpRequest) -> HttpResponse:
    """The handoff list as CSV, with the page's ``?status=`` and ``?flagged=1`` filters."""
    from csplatform.exports import csv_stream_response

    status = request.GET.get("status", "")
    status = status if status in HandoffStatus.values else ""
    today = tenant_today(request.tenant)
    handoffs = handoffs_listed(tenant=request.tenant, status=status, flagged=request.GET.get("flagged") == "1")
    rows = (
        (
            handoff.account.name,
            handoff.get_status_display(),
            handoff.get_fit_category_display(),
            handoff.age_days(today),
            handoff.completeness_percent(impact_statement_count=handoff.impact_count),
            str(handoff.author or ""),
            str(handoff.account.owner or ""),
        )
        for handoff in handoffs.iterator(chunk_size=2_000)
    )
    header = ["Account", "Status", "Fit", "Age (days)", "Completeness %", "Sales", "CSM"]
    return csv_stream_response(tenant=request.tenant, name="handoffs", header=header, rows=rows)


@member_required
@require_http_methods(["GET", "POST"])
def handoff_create(request: HttpRequest) -> HttpResponse:
    """Sales drafts a new account's handoff (leaders and admins may stand in)."""
    _require(services.can_draft_handoff(request.membership), "Account executives draft handoffs.")
    initial = {"account": request.GET.get("account")} if request.method == "GET" else None
    form = HandoffForm(_posted(request), tenant=request.tenant, initial=initial)
    formset = impact_formset(_posted(request))
    return _handoff_form(request, form, formset, handoff=None)


def _handoff_form(request: HttpRequest, form, formset, *, handoff: Handoff | None) -> HttpResponse:
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        new_account = {name: form.cleaned_data.pop(name, None) for name in HandoffForm.NEW_ACCOUNT_FIELDS}
        account = form.cleaned_data.pop("account", None)
        fields = form.cleaned_data
        try:
            if handoff is None and account is None:
                saved = services.handoff_create_with_account(
                    tenant=request.tenant,
                    author=request.user,
                    name=new_account["new_account_name"],
                    domain=new_account["new_account_domain"],
                    segment=new_account["new_account_segment"],
                    customer_since=new_account["new_account_customer_since"],
                    fields=fields,
                    impact_statements=impact_statements_of(formset),
                )
            else:
                saved = services.handoff_save(
                    tenant=request.tenant,
                    author=request.user,
                    handoff=handoff,
                    account=account,
                    fields=fields,
                    impact_statements=impact_statements_of(formset),
                )
        except ValidationError as error:
            form.add_error(None, error)
        except services.HandoffStateError as error:
            messages.error(request, str(error))
            return redirect("successplans:handoff_detail", handoff_id=handoff.pk)
        else:
            if request.POST.get("then") == "submit":
                return _submit(request, saved)
            messages.success(request, f"Handoff of {saved.account.name} saved as {saved.get_status_display().lower()}.")
            return redirect("successplans:handoff_detail", handoff_id=saved.pk)
    context = {
        "nav": "handoffs",
        "form": form,
        "formset": formset,
        "handoff": handoff,
        "title": f"Handoff of {handoff.account.name}" if handoff else "New handoff",
        "spiced_fields": [form[name] for name in ("situation", "pain", "impact")],
        "fit_fields": [form[name] for name in FIT_QUESTIONS],
    }
    status = 422 if request.method == "POST" else 200
    return render_page(request, "successplans/handoff_form.html", context, status=status)


@member_required
@require_http_methods(["GET", "POST"])
def handoff_edit(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = _handoff_of(request, handoff_id)
    _require(
        services.can_edit_handoff(request.membership, handoff), "Only the handoff's author or a leader can edit it."
    )
    if not handoff.is_editable:
        messages.error(request, f"This handoff is {handoff.get_status_display().lower()}: it can no longer be edited.")
        return redirect("successplans:handoff_detail", handoff_id=handoff.pk)
    form = HandoffForm(_posted(request), instance=handoff, tenant=request.tenant)
    formset = impact_formset(_posted(request), handoff=handoff)
    return _handoff_form(request, form, formset, handoff=handoff)


def _submit(request: HttpRequest, handoff: Handoff) -> HttpResponse:
    try:
        services.handoff_submit(handoff=handoff, by=request.user)
    except (ValidationError, services.HandoffStateError) as error:
        messages.error(request, " ".join(error.messages) if isinstance(error, ValidationError) else str(error))
    else:
        owner = handoff.account.owner
        messages.success(request, f"Handoff submitted to {owner or 'the CS leaders'} for review.")
    return redirect("successplans:handoff_detail", handoff_id=handoff.pk)


@member_required
@require_POST
def handoff_submit(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = _handoff_of(request, handoff_id)
    _require(
        services.can_edit_handoff(request.membership, handoff), "Only the handoff's author or a leader submits it."
    )
    return _submit(request, handoff)


@member_required
@require_GET
def handoff_detail(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """The handoff as the CSM reviews it: SPICED, impact statements, fit check and win story,
    with the actions the viewer may take in its state."""
    handoff = _handoff_of(request, handoff_id)
    statements = list(handoff.impact_statements.all())
    plan = SuccessPlan.objects.filter(tenant=request.tenant, account_id=handoff.account_id).first()
    context = {
        "nav": "handoffs",
        "handoff": handoff,
        "statements": statements,
        "plan": plan,
        "age_days": handoff.age_days(tenant_today(request.tenant)),
        "completeness": handoff.completeness_percent(impact_statement_count=len(statements)),
        "fit_rows": [(handoff._meta.get_field(name).verbose_name, getattr(handoff, name)) for name in FIT_QUESTIONS],
        "can_edit": handoff.is_editable and services.can_edit_handoff(request.membership, handoff),
        "can_review": handoff.status == HandoffStatus.SUBMITTED
        and services.can_review_handoff(request.membership, handoff),
        "can_acknowledge": handoff.is_flagged and request.membership.is_leader,
    }
    return render_page(request, "successplans/handoff_detail.html", context)


@member_required
@require_http_methods(["GET", "POST"])
def handoff_send_back(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = _handoff_of(request, handoff_id)
    _require(services.can_review_handoff(request.membership, handoff), "Only the account's CSM or a leader reviews.")
    if handoff.status != HandoffStatus.SUBMITTED:
        messages.error(
            request, f"Only a submitted handoff can be sent back; this one is {handoff.get_status_display()}."
        )
        return redirect("successplans:handoff_detail", handoff_id=handoff.pk)
    form = SendBackForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.handoff_send_back(handoff=handoff, by=request.user, **form.cleaned_data)
        except services.HandoffStateError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Sent back to {handoff.author or 'sales'} with your comment.")
        return redirect("successplans:handoff_detail", handoff_id=handoff.pk)
    back = handoff_url(handoff)
    status = 422 if request.method == "POST" else 200
    return _form_page(
        request,
        title=f"Send back the handoff of {handoff.account.name}",
        form=form,
        back_url=back,
        status=status,
        submit_label="Send back",
    )


@member_required
@require_http_methods(["GET", "POST"])
def handoff_accept(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Accept a submitted handoff; the account's plan is created, seeded from a journey."""
    handoff = _handoff_of(request, handoff_id)
    _require(services.can_review_handoff(request.membership, handoff), "Only the account's CSM or a leader reviews.")
    if handoff.status != HandoffStatus.SUBMITTED:
        messages.error(
            request, f"Only a submitted handoff can be accepted; this one is {handoff.get_status_display()}."
        )
        return redirect("successplans:handoff_detail", handoff_id=handoff.pk)
    today = tenant_today(request.tenant)
    form = AcceptForm(_posted(request), account=handoff.account, initial={"start_date": today})
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.handoff_accept(handoff=handoff, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        except services.HandoffStateError as error:
            messages.error(request, str(error))
            return redirect("successplans:handoff_detail", handoff_id=handoff.pk)
        else:
            messages.success(request, f"Handoff accepted: {handoff.account.name}'s joint impact plan is ready.")
            return redirect("successplans:plan_detail", plan_id=plan.pk)
    status = 422 if request.method == "POST" else 200
    return _form_page(
        request,
        title=f"Accept the handoff of {handoff.account.name}",
        form=form,
        back_url=handoff_url(handoff),
        status=status,
        submit_label="Accept and create the plan",
    )


@role_required(Role.LEADER)
@require_http_methods(["GET", "POST"])
def handoff_flag_acknowledge(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """A leader acknowledges a bad-fit handoff with a note; it leaves the flagged list."""
    handoff = _handoff_of(request, handoff_id)
    if not handoff.is_flagged:
        messages.error(request, "This handoff is not flagged as a bad fit (any more): nothing to acknowledge.")
        return redirect("successplans:handoff_detail", handoff_id=handoff.pk)
    form = FlagAcknowledgeForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.handoff_flag_acknowledge(handoff=handoff, by=request.user, note=form.cleaned_data["note"])
        except services.HandoffStateError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Bad fit of {handoff.account.name} acknowledged.")
        return redirect("successplans:handoff_detail", handoff_id=handoff.pk)
    return _form_page(
        request,
        title=f"Acknowledge the bad fit of {handoff.account.name}",
        form=form,
        back_url=handoff_url(handoff),
        submit_label="Acknowledge",
    )


def handoff_url(handoff: Handoff) -> str:
    return reverse("successplans:handoff_detail", kwargs={"handoff_id": handoff.pk})


# --- Plans ----------------------------------------------------------------------------------------------


def _plan_page_context(request: HttpRequest, plan_id: int) -> dict:
    plan = get_for_tenant_or_404(plan_with_parts(tenant=request.tenant, plan_id=plan_id), request, pk=plan_id)
    today = tenant_today(request.tenant)
    milestones = list(plan.milestones.all())
    return {
        "plan": plan,
        "account": plan.account,
        "today": today,
        "milestones": milestones,
        "overdue_ids": {m.pk for m in milestones if m.is_overdue(today)},
        "measures": list(plan.measures.all()),
        "reviews": list(plan.reviews.all()),
        "status": plan_status(plan, today),
    }


PLAN_PAGE = "successplans/plan_detail.html"


def _plan_detail_context(request: HttpRequest, plan_id: int, **extra) -> dict:
    """The plan page's context; its partials (milestones, a measure's row) render from it too,
    so a swap shows what a reload would. ``extra`` carries an inline form with its errors."""
    context = _plan_page_context(request, plan_id)
    plan = context["plan"]
    can_manage = services.can_manage_plan(request.membership, plan.account)
    context.update(
        nav="plans",
        can_manage=can_manage,
        share_link=PlanShareLink.objects.filter(tenant=request.tenant, plan=plan, revoked_at__isnull=True).first(),
        milestone_statuses=MilestoneStatus.choices,
        owner_sides=OwnerSide.choices,
    )
    if can_manage and "add_form" not in extra:
        context["add_form"] = MilestoneQuickAddForm(plan=plan)
    context.update(extra)
    return context


@member_required
@require_GET
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The joint impact plan as the team works it: goals, milestones (overdue ones flagged),
    measures, reviews, TTFV and the share link. A manager changes a milestone's status, a
    measure's current value and adds a milestone in place (htmx swaps a partial; without
    JavaScript the same forms post and come back to this page)."""
    return render_page(request, PLAN_PAGE, _plan_detail_context(request, plan_id))


def _plan_partial(
    request: HttpRequest, plan: SuccessPlan, partial: str, *, status: int = 200, message: str = "", **extra
) -> HttpResponse:
    """After an inline write: the page's ``partial`` for htmx, else back to the page with
    ``message`` (or, with errors, the whole page with the form's errors in place; 422)."""
    if status == 200 and not htmx_partial(request):
        if message:
            messages.success(request, message)
        return redirect("successplans:plan_detail", plan_id=plan.pk)
    context = _plan_detail_context(request, plan.pk, **extra)
    return render_page(request, PLAN_PAGE, context, partial=partial, status=status)


@member_required
@require_POST
def milestone_status(request: HttpRequest, plan_id: int, milestone_id: int) -> HttpResponse:
    """Change one milestone's status from the plan page (done today when marked done)."""
    plan = _plan_of(request, plan_id)
    milestone = get_for_tenant_or_404(
        Milestone.objects.select_related("owner_user", "owner_contact"), request, pk=milestone_id, plan=plan
    )
    _require_plan_manager(request, plan)
    form = MilestoneStatusForm(request.POST)
    if not form.is_valid():
        return _plan_partial(request, plan, "milestones", status=422, status_error_id=milestone.pk, status_form=form)
    services.milestone_status_set(milestone=milestone, plan=plan, status=form.cleaned_data["status"])
    label = MilestoneStatus(form.cleaned_data["status"]).label.lower()
    return _plan_partial(request, plan, "milestones", message=f"“{milestone.title}” is {label}.")


@member_required
@require_POST
def measure_current(request: HttpRequest, plan_id: int, measure_id: int) -> HttpResponse:
    """Record a measure's current value from the plan page."""
    plan = _plan_of(request, plan_id)
    measure = get_for_tenant_or_404(Measure.objects.all(), request, pk=measure_id, plan=plan)
    _require_plan_manager(request, plan)
    form = MeasureCurrentForm(request.POST)
    if not form.is_valid():
        return _plan_partial(request, plan, "measures", status=422, current_error_id=measure.pk, current_form=form)
    services.measure_current_set(measure=measure, plan=plan, current=form.cleaned_data["current"])
    return _plan_partial(request, plan, "measures", message=f"“{measure.name}” is now {form.cleaned_data['current']}.")


@member_required
@require_GET
def plan_customer_view(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The plan as the customer sees it (print-friendly), signed in."""
    context = {**_plan_page_context(request, plan_id), "shared": False}
    return TemplateResponse(request, "successplans/plan_customer.html", context)


@require_GET
def plan_shared(request: HttpRequest, token: str) -> HttpResponse:
    """The customer-facing plan for whoever holds a live share link: no sign-in, nothing of the
    tenant but this plan. The visitor has no membership, so the view enters the link's tenant
    itself; a revoked or unknown token is 404."""
    link = PlanShareLink.objects.filter(token=token, revoked_at__isnull=True).select_related("tenant").first()
    if link is None:
        raise Http404("This link is not valid (any more).")
    with tenant_scope(link.tenant):
        plan = plan_with_parts(tenant=link.tenant, plan_id=link.plan_id).first()
        if plan is None:
            raise Http404("This link is not valid (any more).")
        today = tenant_today(link.tenant)
        milestones = list(plan.milestones.all())
        context = {
            "plan": plan,
            "account": plan.account,
            "today": today,
            "milestones": milestones,
            "overdue_ids": {m.pk for m in milestones if m.is_overdue(today)},
            "measures": list(plan.measures.all()),
            "status": plan_status(plan, today),
            "shared": True,
            "vendor_name": link.tenant.name,
        }
        response = TemplateResponse(request, "successplans/plan_customer.html", context)
        response.render()  # inside the scope: the template reads the plan's rows
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response


@member_required
@require_http_methods(["GET", "POST"])
def plan_start(request: HttpRequest, account_id: int) -> HttpResponse:
    """Start a plan for an account that came without a handoff (an existing customer)."""
    account = get_for_tenant_or_404(Account.objects.select_related("segment"), request, pk=account_id)
    _require(services.can_manage_plan(request.membership, account), "Only the account's CSM or a leader starts a plan.")
    existing = SuccessPlan.objects.filter(tenant=request.tenant, account=account).first()
    if existing is not None:
        return redirect("successplans:plan_detail", plan_id=existing.pk)
    form = AcceptForm(_posted(request), account=account, initial={"start_date": tenant_today(request.tenant)})
    if request.method == "POST" and form.is_valid():
        plan = services.plan_create(tenant=request.tenant, account=account, **form.cleaned_data)
        messages.success(request, f"{account.name}'s joint impact plan is ready.")
        return redirect("successplans:plan_detail", plan_id=plan.pk)
    return _form_page(
        request,
        title=f"Start a joint impact plan for {account.name}",
        form=form,
        back_url=reverse("accounts:detail", kwargs={"account_id": account.pk}),
        submit_label="Start the plan",
    )


def _plan_url(plan: SuccessPlan) -> str:
    return reverse("successplans:plan_detail", kwargs={"plan_id": plan.pk})


@member_required
@require_http_methods(["GET", "POST"])
def plan_edit(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = _plan_of(request, plan_id)
    _require_plan_manager(request, plan)
    form = PlanForm(_posted(request), instance=plan)
    return _plan_part_form(
        request,
        plan,
        form,
        save=lambda: services.plan_update(plan=plan, **form.cleaned_data),
        saved=lambda: "Plan saved.",
        title=f"Goals of {plan.account.name}'s plan",
        submit_label="Save goals",
    )


def _milestone_form(request: HttpRequest, plan: SuccessPlan, milestone: Milestone | None) -> HttpResponse:
    form = MilestoneForm(_posted(request), instance=milestone, plan=plan)
    return _plan_part_form(
        request,
        plan,
        form,
        save=lambda: services.milestone_save(plan=plan, milestone=milestone, **form.cleaned_data),
        saved=lambda: f"Milestone “{form.cleaned_data['title']}” saved.",
        title=f"Edit “{milestone.title}”" if milestone else f"Add a milestone to {plan.account.name}'s plan",
        submit_label="Save milestone",
    )


@member_required
@require_http_methods(["GET", "POST"])
def milestone_add(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The full milestone form; the plan page's short form (``quick=1``) posts here too and
    gets the milestones partial back (htmx) or the plan page (no JavaScript)."""
    plan = _plan_of(request, plan_id)
    _require_plan_manager(request, plan)
    if request.method == "POST" and request.POST.get("quick"):
        return _milestone_quick_add(request, plan)
    return _milestone_form(request, plan, None)


def _milestone_quick_add(request: HttpRequest, plan: SuccessPlan) -> HttpResponse:
    form = MilestoneQuickAddForm(request.POST, plan=plan)
    if form.is_valid():
        try:
            services.milestone_save(plan=plan, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _plan_partial(
                request, plan, "milestones", message=f"Milestone “{form.cleaned_data['title']}” added."
            )
    return _plan_partial(request, plan, "milestones", status=422, add_form=form)


@member_required
@require_http_methods(["GET", "POST"])
def milestone_edit(request: HttpRequest, plan_id: int, milestone_id: int) -> HttpResponse:
    plan = _plan_of(request, plan_id)
    milestone = get_for_tenant_or_404(Milestone.objects.all(), request, pk=milestone_id, plan=plan)
    _require_plan_manager(request, plan)
    return _milestone_form(request, plan, milestone)


def _measure_form(request: HttpRequest, plan: SuccessPlan, measure: Measure | None) -> HttpResponse:
    form = MeasureForm(_posted(request), instance=measure)
    return _plan_part_form(
        request,
        plan,
        form,
        save=lambda: services.measure_save(plan=plan, measure=measure, **form.cleaned_data),
        saved=lambda: f"Measure “{form.cleaned_data['name']}” saved.",
        title=f"Edit “{measure.name}”" if measure else f"Add a measure to {plan.account.name}'s plan",
        submit_label="Save measure",
    )


@member_required
@require_http_methods(["GET", "POST"])
def measure_add(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = _plan_of(request, plan_id)
    _require_plan_manager(request, plan)
    return _measure_form(request, plan, None)


@member_required
@require_http_methods(["GET", "POST"])
def measure_edit(request: HttpRequest, plan_id: int, measure_id: int) -> HttpResponse:
    plan = _plan_of(request, plan_id)
    measure = get_for_tenant_or_404(Measure.objects.all(), request, pk=measure_id, plan=plan)
    _require_plan_manager(request, plan)
    return _measure_form(request, plan, measure)


@member_required
@require_POST
def plan_share(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Create the plan's read-only link (any earlier one stops working)."""
    plan = _plan_of(request, plan_id)
    _require_plan_manager(request, plan)
    services.plan_share_link_create(plan=plan, by=request.user)
    messages.success(request, "A new read-only link is ready; any earlier link stopped working.")
    return redirect("successplans:plan_detail", plan_id=plan.pk)


@member_required
@require_POST
def plan_share_revoke(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = _plan_of(request, plan_id)
    _require_plan_manager(request, plan)
    revoked = services.plan_share_link_revoke(plan=plan)
    messages.success(request, "The read-only link stopped working." if revoked else "There was no live link.")
    return redirect("successplans:plan_detail", plan_id=plan.pk)


# --- Impact reviews ----------------------------------------------------------------------------------


@member_required
@require_http_methods(["GET", "POST"])
def review_create(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Record a QBR / EBR: the page opens with the SPICED and the goals, asks for the results
    against each measure and the objectives and date of the next review."""
    plan = get_for_tenant_or_404(
        SuccessPlan.objects.select_related("account", "handoff", "tenant"), request, pk=plan_id
    )
    _require_plan_manager(request, plan)
    measures = list(plan.measures.all())
    today = tenant_today(request.tenant)
    form = ImpactReviewForm(_posted(request), plan=plan, measures=measures, initial={"held_on": today})
    if request.method == "POST" and form.is_valid():
        data = {name: value for name, value in form.cleaned_data.items() if not name.startswith("measure_")}
        try:
            review = services.impact_review_record(
                plan=plan, author=request.user, measure_values=form.measure_values, **data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"{review.get_kind_display()} recorded; it is on the account's timeline.")
            return redirect("successplans:review_detail", plan_id=plan.pk, review_id=review.pk)
    context = {
        "nav": "plans",
        "plan": plan,
        "form": form,
        "spiced_summary": services.spiced_summary(plan.handoff),
        "goals_summary": services.goals_summary(plan),
    }
    return render_page(
        request, "successplans/review_form.html", context, status=422 if request.method == "POST" else 200
    )


@member_required
@require_GET
def review_detail(request: HttpRequest, plan_id: int, review_id: int) -> HttpResponse:
    plan = _plan_of(request, plan_id)
    review = get_for_tenant_or_404(
        ImpactReview.objects.select_related("created_by").prefetch_related("measure_results__measure"),
        request,
        pk=review_id,
        plan=plan,
    )
    return render_page(request, "successplans/review_detail.html", {"nav": "plans", "plan": plan, "review": review})


# --- Impact journeys (admins) -----------------------------------------------------------------------


@role_required(Role.ADMIN)
@require_GET
def journey_list(request: HttpRequest) -> HttpResponse:
    journeys = (
        ImpactJourney.objects.filter(tenant=request.tenant)
        .select_related("segment")
        .annotate(step_count=Count("steps"))
        .order_by("-segment__arr_min", "position", "name")
    )
    return render_page(request, "successplans/journey_list.html", {"nav": "settings", "journeys": journeys})


def _journey_form(request: HttpRequest, journey: ImpactJourney | None) -> HttpResponse:
    form = JourneyForm(_posted(request), instance=journey, tenant=request.tenant)
    formset = journey_steps_formset(_posted(request), journey=journey)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        steps = [f.step_data for f in formset.forms if f.step_data]
        try:
            saved = services.journey_save(
                tenant=request.tenant,
                journey=journey,
                segment=form.cleaned_data["segment"],
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                position=form.cleaned_data["position"],
                steps=steps,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Journey “{saved.name}” saved with {len(steps)} step{'s' * (len(steps) != 1)}.")
            return redirect("successplans:journey_list")
    context = {"nav": "settings", "form": form, "formset": formset, "journey": journey}
    return render_page(
        request, "successplans/journey_form.html", context, status=422 if request.method == "POST" else 200
    )


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def journey_create(request: HttpRequest) -> HttpResponse:
    return _journey_form(request, None)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def journey_edit(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = get_for_tenant_or_404(ImpactJourney.objects.all(), request, pk=journey_id)
    return _journey_form(request, journey)


@role_required(Role.ADMIN)
@require_POST
def journey_delete(request: HttpRequest, journey_id: int) -> HttpResponse:
    journey = get_for_tenant_or_404(ImpactJourney.objects.all(), request, pk=journey_id)
    services.journey_delete(journey=journey)
    messages.success(request, f"Journey “{journey.name}” deleted; plans it seeded keep their milestones.")
    return redirect("successplans:journey_list")


# --- Leader views -----------------------------------------------------------------------------------


@role_required(Role.LEADER)
@require_GET
def insights(request: HttpRequest) -> HttpResponse:
    """For leaders: relationship gaps, new relationships per CSM against the target, TTFV by
    segment and plans on track / at risk per CSM."""
    from . import insights as metrics

    today = tenant_today(request.tenant)
    no_champion = metrics.accounts_without_champion(tenant=request.tenant)
    single = metrics.single_threaded_accounts(tenant=request.tenant, today=today)
    ttfv = metrics.ttfv_by_segment(tenant=request.tenant)
    context = {
        "nav": "success_insights",
        "no_champion": list(no_champion[: metrics.LIST_LIMIT]),
        "no_champion_count": no_champion.count(),
        "single_threaded": list(single[: metrics.LIST_LIMIT]),
        "single_threaded_count": single.count(),
        "relationships": metrics.new_relationships_by_csm(tenant=request.tenant, today=today),
        "ttfv": ttfv,
        "ttfv_chart": metrics.ttfv_chart_data(ttfv),
        "plans_by_csm": metrics.plans_by_csm(tenant=request.tenant, today=today),
        "flagged": list(handoffs_listed(tenant=request.tenant, flagged=True)[:20]),
        "window_days": 90,
    }
    return render_page(request, "successplans/insights.html", context)


@role_required(Role.LEADER)
@require_GET
def insights_export(request: HttpRequest, table: str) -> HttpResponse:
    """One table (or list) of the insights page as CSV; the account lists in full, where the
    page shows the first ``LIST_LIMIT``."""
    from csplatform.exports import csv_stream_response

    from . import insights as metrics

    tenant, today = request.tenant, tenant_today(request.tenant)
    if table == "plans-by-csm":
        header = ["CSM", "On track", "At risk"]
        rows = [(r.name, r.on_track, r.at_risk) for r in metrics.plans_by_csm(tenant=tenant, today=today)]
    elif table == "ttfv-by-segment":
        header = ["Segment", "Plans", "Median days", "Average days", "Distribution"]
        rows = [
            (r.segment, r.count, r.median, r.average, " · ".join(f"{label}: {count}" for label, count in r.buckets))
            for r in metrics.ttfv_by_segment(tenant=tenant)
        ]
    elif table == "new-relationships":
        header = ["CSM", "New this month", "Target"]
        rows = [
            (r.name, r.new_this_month, r.target) for r in metrics.new_relationships_by_csm(tenant=tenant, today=today)
        ]
    elif table == "no-champion":
        header = ["Account", "ARR", "Owner"]
        accounts = metrics.accounts_without_champion(tenant=tenant)
        rows = ((a.name, a.arr, str(a.owner or "")) for a in accounts.iterator(chunk_size=2_000))
    elif table == "single-threaded":
        header = ["Account", "Engaged contacts", "Owner"]
        accounts = metrics.single_threaded_accounts(tenant=tenant, today=today)
        rows = ((a.name, a.engaged_contacts, str(a.owner or "")) for a in accounts.iterator(chunk_size=2_000))
    else:
        raise Http404
    return csv_stream_response(tenant=tenant, name=f"success-{table}", header=header, rows=rows)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def relationship_target_edit(request: HttpRequest) -> HttpResponse:
    from .forms import RelationshipSettingsForm
    from .models import RelationshipSettings

    current = RelationshipSettings.objects.filter(tenant=request.tenant).first() or RelationshipSettings(
        tenant=request.tenant
    )
    form = RelationshipSettingsForm(_posted(request), instance=current)
    if request.method == "POST" and form.is_valid():
        services.relationship_target_set(
            tenant=request.tenant, new_relationships_per_month=form.cleaned_data["new_relationships_per_month"]
        )
        messages.success(request, "Target saved.")
        return redirect("successplans:insights")
    return _form_page(
        request,
        title="New relationships target",
        form=form,
        back_url=reverse("settings:home"),
        submit_label="Save target",
    )
