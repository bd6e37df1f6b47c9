"""The API keys page of the settings (admins): list, create (the key is shown once) and revoke."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from csplatform.models import Role
from csplatform.rendering import render_page
from csplatform.tenancy import get_for_tenant_or_404, role_required

from .forms import ApiKeyForm
from .keys import api_key_create, api_key_revoke
from .models import ApiKey

NAV = "settings"


@role_required(Role.ADMIN)
@require_safe
def key_list(request: HttpRequest) -> HttpResponse:
    keys = ApiKey.objects.filter(tenant=request.tenant).select_related("created_by", "revoked_by")
    context = {"nav": NAV, "keys": keys, "docs_url": reverse("api:docs")}
    return render_page(request, "api/key_list.html", context)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def key_create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        new = api_key_create(tenant=request.tenant, by=request.user, **form.cleaned_data)
        # Rendered, not redirected: the key must not travel in a URL or rest in a session.
        response = render_page(request, "api/key_created.html", {"nav": NAV, "new": new})
        response["Cache-Control"] = "no-store"
        return response
    return render_page(request, "api/key_form.html", {"nav": NAV, "form": form}, status=422 if form.errors else 200)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def key_revoke(request: HttpRequest, api_key_id: int) -> HttpResponse:
    api_key = get_for_tenant_or_404(ApiKey.objects.all(), request, pk=api_key_id)
    if request.method == "POST":
        api_key_revoke(api_key=api_key, by=request.user)
        messages.success(request, f"The key “{api_key.name}” is revoked: requests with it are refused from now on.")
        return redirect("api_keys:list")
    return render_page(request, "api/key_revoke.html", {"nav": NAV, "api_key": api_key})
