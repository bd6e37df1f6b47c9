"""Renewal pipeline, closing a renewal, the retention dashboard with its drill-downs, and the
churn-reason taxonomy. Thin: a form validates, a service acts, ``queries`` reads."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import Account
from accounts.services import can_edit_account, tenant_today
from csplatform.models import Role
from csplatform.rendering import htmx_partial, render_page
from csplatform.tenancy import get_for_tenant_or_404, member_required, role_required

from . import metrics, queries, questions, services
from .forms import (
    ChurnReasonForm,
    DashboardForm,
    ExpansionOpportunityForm,
    ForecastForm,
    PipelineFilterForm,
    RenewalCloseForm,
    RetentionSettingsForm,
)
from .models import ChurnReason, ExpansionOpportunity, ForecastCategory, Renewal

PIPELINE = "renewals/pipeline.html"


def _renewal_to_work(request: HttpRequest, renewal_id: int) -> Renewal:
    renewal = get_for_tenant_or_404(
        Renewal.objects.select_related("account", "account__segment", "owner"), request, pk=renewal_id
    )
    if not services.can_work_renewal(request.membership, renewal):
        raise PermissionDenied("Only the renewal's owner, a CS leader or an admin can work this renewal.")
    return renewal


@member_required
@require_GET
def pipeline(request: HttpRequest) -> HttpResponse:
    """Open renewals by window (overdue, 0-3 ... 9-12 months) with ARR at stake and forecast.
    A CSM sees their own; leaders and admins everyone's, with an owner filter."""
    today = tenant_today(request.tenant)
    form = PipelineFilterForm(request.GET, tenant=request.tenant, with_owner=request.membership.is_leader)
    filters = form.valid_filters()
    renewals = queries.pipeline_renewals(
        tenant=request.tenant, membership=request.membership, filters=filters, today=today
    )
    if request.GET.get("format") == "csv":
        return queries.csv_response(
            "renewal-pipeline.csv",
            ["account", "renewal date", "ARR up", "owner", "segment", "forecast", "forecast ARR", "notes"],
            (
                [
                    r.account.name,
                    r.renewal_date.isoformat(),
                    r.arr_up,
                    str(r.owner or ""),
                    r.account.segment.name if r.account.segment else "",
                    r.get_forecast_category_display(),
                    r.forecast_arr,
                    r.notes,
                ]
                for r in renewals
            ),
        )
    context = {
        "nav": "renewals",
        "form": form,
        "filtered": bool(filters),
        "groups": queries.pipeline_groups(renewals, today),
        "today": today,
        "count": len(renewals),
    }
    return render_page(request, PIPELINE, context, partial="results")


@member_required
@require_http_methods(["GET", "POST"])
def renewal_forecast(request: HttpRequest, renewal_id: int) -> HttpResponse:
    """The inline forecast editor of a pipeline row: GET gives the row with its form, POST
    saves and gives the row back (422 with the errors)."""
    renewal = _renewal_to_work(request, renewal_id)
    today = tenant_today(request.tenant)
    if request.method == "GET":
        form = ForecastForm(
            initial={"forecast_category": renewal.forecast_category, "forecast_arr": renewal.forecast_arr}
        )
        return _row(request, renewal, today, form=form)
    form = ForecastForm(request.POST)
    if form.is_valid():
        try:
            services.renewal_forecast_update(renewal=renewal, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if not htmx_partial(request):
                messages.success(request, f"Forecast of {renewal.account.name} saved.")
                return redirect("renewals:pipeline")
            return _row(request, renewal, today, saved=True)
    return _row(request, renewal, today, form=form, status=422)


def _row(request, renewal, today, *, form=None, saved=False, status=200) -> HttpResponse:
    context = {"renewal": renewal, "today": today, "forecast_form": form, "saved": saved, "nav": "renewals"}
    if not htmx_partial(request):
        context |= {"groups": [], "form": PipelineFilterForm(tenant=request.tenant, with_owner=False), "single": True}
    return render_page(request, PIPELINE, context, partial="row", status=status)


@member_required
@require_http_methods(["GET", "POST"])
def renewal_close(request: HttpRequest, renewal_id: int) -> HttpResponse:
    """Close a renewal with its outcome and the next term's ARR; a churn or a contraction
    needs a reason and the products lost."""
    renewal = _renewal_to_work(request, renewal_id)
    if not renewal.is_open:
        messages.info(request, f"The renewal of {renewal.account.name} is closed already.")
        return redirect("renewals:pipeline")
    if not ChurnReason.objects.filter(tenant=request.tenant).exists():
        services.churn_reasons_create_defaults(tenant=request.tenant)
    term_products = services.renewal_products(renewal)
    form = RenewalCloseForm(
        request.POST if request.method == "POST" else None, tenant=request.tenant, term_products=term_products
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.renewal_close(
                renewal=renewal,
                closed_by=request.user,
                outcome=data["outcome"],
                new_lines=form.new_lines(),
                term_months=data["term_months"],
                churn_reason=data["churn_reason"],
                reason_note=data["reason_note"],
                affected_products=data["affected_products"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Renewal of {renewal.account.name} closed: {renewal.get_outcome_display()}.")
            return redirect("renewals:pipeline")
    context = {"nav": "renewals", "renewal": renewal, "form": form, "term_products": term_products}
    status = 422 if request.method == "POST" else 200
    return render_page(request, "renewals/close.html", context, partial="form", status=status)


# --- Retention dashboard -----------------------------------------------------------------


@role_required(Role.LEADER)
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """GRR, NRR and logo churn for a period, their trend, the ARR bridge, a table by the
    chosen slice and churn reasons; every number links to the accounts behind it."""
    form = DashboardForm(request.GET)
    period_kind, slice_by = form.choice()
    context = queries.dashboard_context(
        tenant=request.tenant, period_kind=period_kind, slice_by=slice_by, today=tenant_today(request.tenant)
    )
    if request.GET.get("format") == "trend.csv":
        return queries.csv_response(
            f"retention-trend-{period_kind}.csv",
            ["period", *metrics.SUMMARY_COLUMNS],
            ([row["label"], *(row.get(column, "") for column in metrics.SUMMARY_COLUMNS)] for row in context["trend"]),
        )
    if request.GET.get("format") == "reasons.csv":
        return queries.csv_response(
            f"churn-reasons-by-{slice_by}.csv",
            ["reason", slice_by, "renewals", "ARR lost"],
            ([row["reason"], row.get(slice_by, ""), row["count"], row["arr_lost"]] for row in context["reasons"]),
        )
    if request.GET.get("format") == "csv":
        return queries.csv_response(
            f"retention-by-{slice_by}.csv",
            [slice_by, *metrics.SUMMARY_COLUMNS],
            ([row["key"], *(row[column] for column in metrics.SUMMARY_COLUMNS)] for row in context["sliced"]),
        )
    context |= {
        "nav": "retention",
        "form": form,
        "period_kind": period_kind,
        "slice_by": slice_by,
        "slice_label": dict(form.fields["slice"].choices)[slice_by],
        "is_product": slice_by == "product",
    }
    return render_page(request, "renewals/dashboard.html", context, partial="results")


def _back(request: HttpRequest) -> int:
    """``?back=N``: a trend point N periods before the current one (0 to 24; anything else is 0)."""
    value = request.GET.get("back", "0")
    return int(value) if value.isdigit() and int(value) <= 24 else 0


# A drill-down page lists this many rows (largest first) with the totals of all; its CSV has every row.
DRILL_PAGE_ROWS = 500
DRILL_HEADINGS = {"cohort": "Cohort (ARR at start)", "end": "ARR at end, all accounts"}


@role_required(Role.LEADER)
@require_GET
def dashboard_drill(request: HttpRequest) -> HttpResponse:
    """The accounts (or account-product pairs) behind one dashboard number."""
    form = DashboardForm(request.GET)
    period_kind, slice_by = form.choice()
    metric = request.GET.get("metric", "cohort")
    metric = metric if metric in metrics.METRIC_STATUSES else "cohort"
    value = request.GET.get("value", "")[:200]
    back = _back(request)
    period, rows = queries.drill_rows(
        tenant=request.tenant,
        period_kind=period_kind,
        slice_by=slice_by,
        value=value,
        metric=metric,
        today=tenant_today(request.tenant),
        back=back,
    )
    columns = ["arr_start", "arr_end", "churn", "contraction", "expansion", "new", "reactivation"]
    is_product = slice_by == "product"
    if request.GET.get("format") == "csv":
        header = ["account", *(["product"] if is_product else []), slice_by, "status", *columns]
        return queries.csv_response(
            f"retention-{metric}.csv",
            header,
            (
                [row["account"], *([row["product"]] if is_product else []), row[slice_by], row["status"]]
                + [row[column] for column in columns]
                for row in rows
            ),
        )
    context = {
        "nav": "retention",
        "period": period,
        "period_kind": period_kind,
        "back": back,
        "slice_by": slice_by,
        "value": value,
        "metric": metric,
        "heading": DRILL_HEADINGS.get(metric, metric.capitalize()),
        "rows": rows[:DRILL_PAGE_ROWS],
        "count": len(rows),
        "page_rows": DRILL_PAGE_ROWS,
        "is_product": is_product,
        "totals": {column: sum(row[column] for row in rows) for column in columns},
    }
    return render_page(request, "renewals/drill.html", context)


@role_required(Role.LEADER)
@require_GET
def reason_drill(request: HttpRequest) -> HttpResponse:
    """The closed renewals behind one row of the dashboard's churn-reasons table (``?reason=``
    and, for one slice value, ``?value=``), with the ARR each lost; ``format=csv`` exports them."""
    form = DashboardForm(request.GET)
    period_kind, slice_by = form.choice()
    reason = request.GET.get("reason", "")[:200]
    value = request.GET.get("value")
    value = value[:200] if value is not None else None
    today = tenant_today(request.tenant)
    period = metrics.Period.of(period_kind, today)
    renewals = queries.churn_reason_renewals(
        tenant=request.tenant, period=period, slice_by=slice_by, reason=reason, value=value
    )
    if request.GET.get("format") == "csv":
        return queries.csv_response(
            "churn-reason-renewals.csv",
            ["account", "renewal date", "ARR up", "new ARR", "ARR lost", "outcome", "reason", "note", "products lost"],
            (
                [
                    r.account.name,
                    r.renewal_date.isoformat(),
                    r.arr_up,
                    r.new_arr,
                    r.arr_lost,
                    r.get_outcome_display(),
                    str(r.churn_reason),
                    r.reason_note,
                    ", ".join(p.name for p in r.affected_products.all()),
                ]
                for r in renewals
            ),
        )
    context = {
        "nav": "retention",
        "period": period,
        "period_kind": period_kind,
        "slice_by": slice_by,
        "reason": reason,
        "value": value,
        "renewals": renewals,
        "arr_lost": sum((r.arr_lost for r in renewals), 0),
    }
    return render_page(request, "renewals/reason_drill.html", context)


@member_required
@require_GET
def account_ledger(request: HttpRequest, account_id: int) -> HttpResponse:
    """The ARR ledger rows of one account, for a dashboard period (``?period=``) or all time."""
    account = get_for_tenant_or_404(Account.objects.all(), request, pk=account_id)
    kind = request.GET.get("period", "")
    period = None
    if kind in ("month", "quarter", "ttm"):
        period = metrics.Period.of(kind, tenant_today(request.tenant)).previous(_back(request))
    rows = queries.ledger_rows(tenant=request.tenant, account=account, period=period)
    if request.GET.get("format") == "csv":
        return queries.csv_response(
            f"arr-ledger-{account.pk}.csv",
            ["account", "month", "product", "kind", "ARR before", "ARR after", "amount"],
            (
                [account.name, f"{r.month:%Y-%m}", r.product.name, r.kind, r.arr_before, r.arr_after, r.amount]
                for r in rows
            ),
        )
    context = {"account": account, "rows": rows, "period": period, "total": sum(r.amount for r in rows)}
    return render_page(request, "renewals/ledger.html", context)


@role_required(Role.LEADER)
@require_GET
def leader_questions(request: HttpRequest) -> HttpResponse:
    """DOMAIN.md §2's leader questions for a period; ``?format=csv`` exports the tenured customers."""
    form = DashboardForm(request.GET)
    period_kind, _ = form.choice()
    context = queries.leader_questions(
        tenant=request.tenant, period_kind=period_kind, today=tenant_today(request.tenant)
    )
    if request.GET.get("format") == "csv":
        return queries.csv_response(
            "customers-older-than-three-years.csv",
            ["account", "original ARR", "current ARR", "current / original"],
            (
                [row["name"], row["original_arr"], row["current_arr"], row["ratio"]]
                for row in questions.tenured_rows(tenant=request.tenant, today=tenant_today(request.tenant))
            ),
        )
    if request.GET.get("format") == "industry.csv":
        return _summary_csv("churn-by-industry.csv", "industry", context["industries"])
    if request.GET.get("format") == "product.csv":
        return _summary_csv("retention-by-product.csv", "product", context["products"])
    context |= {"nav": "retention", "form": form, "period_kind": period_kind}
    return render_page(request, "renewals/questions.html", context)


def _summary_csv(filename: str, slice_by: str, rows: list[dict]) -> HttpResponse:
    return queries.csv_response(
        filename,
        [slice_by, *metrics.SUMMARY_COLUMNS],
        ([row["key"], *(row[column] for column in metrics.SUMMARY_COLUMNS)] for row in rows),
    )


DISCOUNT_PAGE_ROWS = 200


@role_required(Role.LEADER)
@require_GET
def discount_drill(request: HttpRequest) -> HttpResponse:
    """The first terms and first renewals behind the average discount change: each pair's two
    subscription lines with their ARR, list price and discount (``?priced=0``: the pairs without a
    list price). The page lists the largest changes; ``format=csv`` exports every pair."""
    priced = request.GET.get("priced", "1") != "0"
    if request.GET.get("format") == "csv":
        rows = questions.discount_rows(tenant=request.tenant, priced=priced)
        return queries.csv_response(
            "discount-change-at-first-renewal.csv",
            questions.DISCOUNT_COLUMNS,
            ([row[column] for column in questions.DISCOUNT_COLUMNS] for row in rows),
        )
    context = {
        "nav": "retention",
        "priced": priced,
        "summary": questions.discount_summary(tenant=request.tenant),
        "rows": questions.discount_rows(tenant=request.tenant, priced=priced, limit=DISCOUNT_PAGE_ROWS),
        "page_rows": DISCOUNT_PAGE_ROWS,
    }
    return render_page(request, "renewals/discounts.html", context)


# --- CSM load (leaders) ---------------------------------------------------------------------


@role_required(Role.LEADER)
@require_GET
def csm_load(request: HttpRequest) -> HttpResponse:
    """Each CSM's book per segment by ARR and account count against the segment's capacity."""
    books = queries.csm_load(tenant=request.tenant)
    if request.GET.get("format") == "csv":
        return queries.csv_response(
            "csm-load.csv",
            [
                "CSM",
                "segment",
                "accounts",
                "ARR",
                "capacity from",
                "capacity up to",
                "ARR capacity from",
                "ARR capacity up to",
                "load",
            ],
            (
                [
                    b.owner_name,
                    b.segment_name,
                    b.account_count,
                    b.arr,
                    b.capacity_min or "",
                    b.capacity_max or "",
                    b.arr_capacity_min or "",
                    b.arr_capacity_max or "",
                    b.load,
                ]
                for b in books
            ),
        )
    return render_page(request, "renewals/csm_load.html", {"nav": "retention", "books": books})


# --- Expansion opportunities on an account --------------------------------------------------

EXPANSION = "renewals/expansion.html"


def _to_expansion_list(request: HttpRequest, account: Account) -> HttpResponse:
    url = resolve_url("renewals:expansion_list", account_id=account.pk)
    return HttpResponseClientRedirect(url) if htmx_partial(request) else redirect(url)


def _save_expansion(request: HttpRequest, form: ExpansionOpportunityForm, account: Account, opportunity=None) -> bool:
    """Validate and save through the service; a refused value becomes a field error."""
    if not form.is_valid():
        return False
    try:
        services.expansion_opportunity_save(
            tenant=request.tenant,
            account=account,
            opportunity=opportunity,
            owner=opportunity.owner if opportunity else request.user,
            **form.cleaned_data,
        )
    except ValidationError as error:
        form.add_error(None, error)
        return False
    return True


@member_required
@require_http_methods(["GET", "POST"])
def expansion_list(request: HttpRequest, account_id: int) -> HttpResponse:
    """The account's upsell and cross-sell opportunities; its owner, a leader or an admin adds one."""
    account = get_for_tenant_or_404(Account.objects.all(), request, pk=account_id)
    can_edit = can_edit_account(request.membership, account)
    if request.method == "POST" and not can_edit:
        raise PermissionDenied("Only the account's owner, a CS leader or an admin can add an opportunity.")
    form = ExpansionOpportunityForm(request.POST or None, tenant=request.tenant) if can_edit else None
    if request.method == "POST" and _save_expansion(request, form, account):
        messages.success(request, "Opportunity added.")
        return _to_expansion_list(request, account)
    opportunities = queries.expansion_opportunities(tenant=request.tenant, account=account)
    if request.method == "GET" and request.GET.get("format") == "csv":
        return queries.csv_response(
            f"expansion-{account.pk}.csv",
            ["kind", "product", "arr", "stage", "expected close", "owner"],
            (
                [o.get_kind_display(), o.product.name, o.arr, o.get_stage_display(), o.expected_close, o.owner or ""]
                for o in opportunities
            ),
        )
    context = {
        "account": account,
        "opportunities": opportunities,
        "form": form,
        "can_edit": can_edit,
    }
    if request.method == "POST":
        return render_page(request, EXPANSION, context, partial="add_form", status=422)
    return render_page(request, EXPANSION, context)


@member_required
@require_http_methods(["GET", "POST"])
def expansion_edit(request: HttpRequest, expansion_opportunity_id: int) -> HttpResponse:
    """Move an opportunity along its stages, or correct its product, kind or ARR."""
    opportunity = get_for_tenant_or_404(
        ExpansionOpportunity.objects.select_related("account", "owner"), request, pk=expansion_opportunity_id
    )
    account = opportunity.account
    if not can_edit_account(request.membership, account):
        raise PermissionDenied("Only the account's owner, a CS leader or an admin can change an opportunity.")
    form = ExpansionOpportunityForm(request.POST or None, tenant=request.tenant, instance=opportunity)
    if request.method == "POST" and _save_expansion(request, form, account, opportunity):
        messages.success(request, "Opportunity saved.")
        return _to_expansion_list(request, account)
    status = 422 if request.method == "POST" else 200
    context = {"account": account, "opportunity": opportunity, "form": form}
    return render_page(request, "renewals/expansion_form.html", context, partial="form", status=status)


# --- Churn-reason taxonomy (admins) ----------------------------------------------------------


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def churn_reasons(request: HttpRequest) -> HttpResponse:
    """The tenant's churn reasons with how often each was used; add one, set the NRR target."""
    if not ChurnReason.objects.filter(tenant=request.tenant).exists():
        services.churn_reasons_create_defaults(tenant=request.tenant)
    settings = services.retention_settings_get(tenant=request.tenant)
    form = ChurnReasonForm(request.POST if request.POST.get("action") == "add" else None)
    target_form = RetentionSettingsForm(
        request.POST if request.POST.get("action") == "target" else None, instance=settings
    )
    status = 200
    if request.method == "POST":
        chosen = form if request.POST.get("action") == "add" else target_form
        if chosen.is_valid():
            try:
                if chosen is form:
                    services.churn_reason_save(tenant=request.tenant, **form.cleaned_data)
                    messages.success(request, f"Reason {form.cleaned_data['name']} added.")
                else:
                    services.retention_settings_update(tenant=request.tenant, **target_form.cleaned_data)
                    messages.success(request, "NRR target saved.")
            except ValidationError as error:
                chosen.add_error(None, error)
            else:
                return redirect("renewals:churn_reasons")
        status = 422
    context = {
        "nav": "settings",
        "reasons": services.churn_reasons_with_use(tenant=request.tenant),
        "form": form,
        "target_form": target_form,
    }
    return render_page(request, "renewals/churn_reasons.html", context, status=status)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def churn_reason_edit(request: HttpRequest, churn_reason_id: int) -> HttpResponse:
    reason = get_for_tenant_or_404(ChurnReason.objects.all(), request, pk=churn_reason_id)
    form = ChurnReasonForm(request.POST if request.method == "POST" else None, instance=reason)
    if request.method == "POST" and form.is_valid():
        try:
            services.churn_reason_save(tenant=request.tenant, reason=reason, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Reason {reason.name} saved.")
            return redirect("renewals:churn_reasons")
    status = 422 if request.method == "POST" else 200
    return render_page(
        request, "renewals/churn_reason_form.html", {"nav": "settings", "form": form, "reason": reason}, status=status
    )


@role_required(Role.ADMIN)
@require_POST
def churn_reason_retire(request: HttpRequest, churn_reason_id: int) -> HttpResponse:
    """Retire a reason (``retired=0`` in the form brings it back)."""
    reason = get_for_tenant_or_404(ChurnReason.objects.all(), request, pk=churn_reason_id)
    retired = request.POST.get("retired", "1") != "0"
    services.churn_reason_retire(reason=reason, today=tenant_today(request.tenant), retired=retired)
    messages.success(request, f"{reason} {'retired' if retired else 'offered again'}.")
    return redirect("renewals:churn_reasons")


@role_required(Role.ADMIN)
@require_POST
def churn_reason_delete(request: HttpRequest, churn_reason_id: int) -> HttpResponse:
    reason = get_for_tenant_or_404(ChurnReason.objects.all(), request, pk=churn_reason_id)
    try:
        services.churn_reason_delete(reason=reason)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, f"{reason} deleted.")
    return redirect("renewals:churn_reasons")


# --- Forecast (leaders) ---------------------------------------------------------------------


@role_required(Role.LEADER)
@require_GET
def forecast(request: HttpRequest) -> HttpResponse:
    """Projected GRR of the current and next quarter from the renewals' forecasts, and the
    expansion still needed for the NRR target; ``?quarter=&category=`` lists the renewals behind a
    number (``format=csv`` exports them)."""
    today = tenant_today(request.tenant)
    quarter = request.GET.get("quarter", "current")
    quarter = quarter if quarter in ("current", "next") else "current"
    category = request.GET.get("category", "")
    category = category if category in (*ForecastCategory.values, "closed") else ""
    renewals = queries.forecast_renewals(tenant=request.tenant, today=today, quarter=quarter, category=category)
    if request.GET.get("format") == "csv":
        return queries.csv_response(
            f"forecast-{quarter}.csv",
            ["account", "renewal date", "ARR up", "owner", "forecast", "forecast ARR", "outcome", "new ARR"],
            (
                [
                    r.account.name,
                    r.renewal_date.isoformat(),
                    r.arr_up,
                    str(r.owner or ""),
                    r.get_forecast_category_display(),
                    r.forecast_arr,
                    r.get_outcome_display(),
                    "" if r.new_arr is None else r.new_arr,
                ]
                for r in renewals
            ),
        )
    context = {
        "nav": "retention",
        "quarters": queries.forecast_quarters(tenant=request.tenant, today=today),
        "renewals": renewals,
        "quarter": quarter,
        "category": category,
        "categories": [*ForecastCategory.choices, ("closed", "Closed")],
    }
    return render_page(request, "renewals/forecast.html", context, partial="renewals")
