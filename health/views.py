from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Account, Segment
from accounts.services import tenant_today
from csplatform.models import Role
from csplatform.rendering import render_page
from csplatform.tenancy import get_for_tenant_or_404, member_required, role_required

from . import queries
from .forms import HealthDefinitionForm, PulseForm
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
