from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Account, Segment
from accounts.services import can_edit_account, tenant_today
from csplatform.exports import csv_stream_response
from csplatform.models import Role
from csplatform.rendering import htmx_partial, render_page
from csplatform.tenancy import get_for_tenant_or_404, member_required, role_required

from . import queries, services
from .forms import OWNER_ONLY_SIGNALS, SIGNAL_FORMS, HealthDefinitionForm, PulseForm
from .models import SupportTicket
from .services import health_config_active, health_config_publish, health_preview, pulse_set


@member_required
@require_POST
def set_pulse(request: HttpRequest, account_id: int) -> HttpResponse:
    """The CSM pulse from the account's health card (its owner, a leader or an admin)."""
    account = get_for_tenant_or_404(Account.objects.all(), request, pk=account_id)
    form = PulseForm(request.POST, today=tenant_today(request.tenant))
    if form.is_valid():
        try:
            pulse_set(membership=request.membership, account=account, today=form.today, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
    if form.errors:
        problems = "; ".join(
            f"{form.fields[name].label or name if name in form.fields else 'Pulse'}: {' '.join(errors)}"
            for name, errors in form.errors.items()
        )
        messages.error(request, f"The pulse was not set. {problems}")
    else:
        messages.success(request, "Pulse set. The health score follows in a moment.")
    return redirect("accounts:detail", account_id=account.pk)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def health_settings(request: HttpRequest) -> HttpResponse:
    """The "Health score" settings: "Preview" shows how many accounts would move between bands
    and writes nothing; "Publish" makes a new configuration version and rescores every account
    after commit."""
    tenant = request.tenant
    config = health_config_active(tenant=tenant)
    segments = list(Segment.objects.filter(tenant=tenant).order_by("-arr_min"))
    preview = None
    if request.method == "POST":
        form = HealthDefinitionForm(request.POST, definition=config.definition, segments=segments)
        if form.is_valid():
            if request.POST.get("action") == "publish":
                try:
                    published = health_config_publish(tenant=tenant, definition=form.definition, author=request.user)
                except ValidationError as error:
                    form.add_error(None, error)
                else:
                    messages.success(
                        request, f"Published configuration v{published.version}: every account is being rescored."
                    )
                    return redirect("health:settings")
            else:
                preview = health_preview(tenant=tenant, definition=form.definition)
    else:
        form = HealthDefinitionForm(definition=config.definition, segments=segments)
    context = {"nav": "settings", "form": form, "config": config, "preview": preview}
    return render_page(
        request, "health/settings.html", context, partial="health-form", status=422 if form.errors else 200
    )


@role_required(Role.LEADER)
def leader_view(request: HttpRequest) -> HttpResponse:
    """Bands by segment and by CSM, counts and ARR (ARR in red is at risk), with drill-downs to
    the portfolio."""
    by_segment = queries.band_distribution(tenant=request.tenant, by="segment")
    by_owner = queries.band_distribution(tenant=request.tenant, by="owner")
    chart = {
        "labels": [group.label for group in by_segment],
        "bands": {band: [group.counts.get(band, 0) for group in by_segment] for band in ("red", "yellow", "green", "")},
    }
    context = {"nav": "health_leader", "by_segment": by_segment, "by_owner": by_owner, "chart": chart}
    return render_page(request, "health/leader.html", context)


# The band columns of ``_band_table.html``, in ``queries.BAND_ORDER``.
BAND_COLUMNS = ["Red", "Yellow", "Green", "No score"]


@role_required(Role.LEADER)
def leader_export(request: HttpRequest, by: str) -> HttpResponse:
    """One of the leader page's tables (``by`` segment or owner) as CSV, as shown."""
    if by not in ("segment", "owner"):
        raise Http404
    groups = queries.band_distribution(tenant=request.tenant, by=by)
    header = ["Segment" if by == "segment" else "CSM", *BAND_COLUMNS, "Accounts", "ARR", "ARR at risk"]
    rows = (
        [group.label, *(cell["count"] for cell in group.cells()), group.total, group.arr_total, group.arr_at_risk]
        for group in groups
    )
    return csv_stream_response(tenant=request.tenant, name=f"health-by-{by}", header=header, rows=rows)


def _signal_context(request: HttpRequest, account: Account, kind: str, form, recorded: str = "") -> dict:
    open_tickets = []
    if kind == "ticket":
        open_tickets = list(
            SupportTicket.objects.filter(tenant=request.tenant, account=account, closed_at__isnull=True).order_by(
                "-opened_at"
            )[:20]
        )
    return {
        "nav": "accounts",
        "account": account,
        "kind": kind,
        "form": form,
        "recorded": recorded,
        "open_tickets": open_tickets,
        "kinds": [(key, cls.title) for key, cls in SIGNAL_FORMS.items() if _may_record(request, account, key)],
    }


def _may_record(request: HttpRequest, account: Account, kind: str) -> bool:
    return kind not in OWNER_ONLY_SIGNALS or can_edit_account(request.membership, account)


@role_required(Role.CSM)
@require_http_methods(["GET", "POST"])
def record_signal(request: HttpRequest, account_id: int, kind: str) -> HttpResponse:
    """Record a survey response, support ticket, invoice, notable event, marketing engagement
    or usage day on the account: an event, so the account is rescored a moment after commit.
    Any CSM or above records the facts; a usage day only the account's owner, a leader or an
    admin. An htmx request gets the form back (fresh with a confirmation, or with its errors
    and status 422); a plain one is sent back to the account."""
    account = get_for_tenant_or_404(Account.objects.all(), request, pk=account_id)
    form_class = SIGNAL_FORMS.get(kind)
    if form_class is None:
        raise Http404("No such signal.")
    if not _may_record(request, account, kind):
        raise PermissionDenied("Only the account's owner, a CS leader or an admin can record its usage.")
    options = {"tenant": request.tenant, "account": account, "today": tenant_today(request.tenant)}
    recorded = ""
    if request.method == "POST":
        form = form_class(request.POST, **options)
        if form.is_valid():
            try:
                with transaction.atomic():
                    form.record()
            except ValidationError as error:
                form.add_error(None, error)
            else:
                recorded = f"{form_class.title} recorded. The health score follows in a moment."
                if not htmx_partial(request):
                    messages.success(request, recorded)
                    return redirect("accounts:detail", account_id=account.pk)
                form = form_class(**options)
    else:
        form = form_class(**options)
    return render_page(
        request,
        "health/signal_form.html",
        _signal_context(request, account, kind, form, recorded),
        partial="signal-form",
        status=422 if form.errors else 200,
    )


@role_required(Role.CSM)
@require_POST
def close_ticket(request: HttpRequest, account_id: int, support_ticket_id: int) -> HttpResponse:
    """Close one of the account's open support tickets now (any CSM or above)."""
    account = get_for_tenant_or_404(Account.objects.all(), request, pk=account_id)
    ticket = get_for_tenant_or_404(SupportTicket.objects.filter(account=account), request, pk=support_ticket_id)
    services.support_ticket_close(tenant=request.tenant, ticket=ticket, closed_at=timezone.now())
    recorded = f"Ticket “{ticket.subject}” closed. The health score follows in a moment."
    if not htmx_partial(request):
        messages.success(request, recorded)
        return redirect("accounts:detail", account_id=account.pk)
    form = SIGNAL_FORMS["ticket"](tenant=request.tenant, account=account, today=tenant_today(request.tenant))
    return render_page(
        request,
        "health/signal_form.html",
        _signal_context(request, account, "ticket", form, recorded),
        partial="signal-form",
    )
