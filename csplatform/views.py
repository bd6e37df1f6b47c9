from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .tenancy import SESSION_TENANT_KEY, member_required


@member_required
def home(request: HttpRequest) -> HttpResponse:
    """CS people land on their own book of accounts; account executives on their handoffs."""
    if request.membership.is_sales:
        return redirect("successplans:handoff_list")
    return redirect("accounts:my_book")


@login_required
@require_POST
def tenant_switch(request: HttpRequest) -> HttpResponse:
    """Make another of the user's tenants the active one (only tenants they belong to)."""
    wanted = request.POST.get("tenant_id", "")
    membership = next((m for m in request.memberships if str(m.tenant_id) == wanted), None)
    if membership is None:
        return TemplateResponse(request, "404.html", status=404)
    request.session[SESSION_TENANT_KEY] = membership.tenant_id
    return redirect("home")


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    reason = str(exception) if exception and str(exception) else "You do not have permission to do that."
    return TemplateResponse(request, "403.html", {"reason": reason}, status=403)


def safe_next_url(request: HttpRequest, fallback: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return candidate
    return fallback
