"""Tenant settings pages: the tenant's details, its segments, and its members' roles.

Admins only. Every page answers GET with its form (or confirmation) and writes only on
POST. Rows of the segment and member tables edit in place with htmx: the row asks for its
form or confirmation row, and a successful write answers with the whole table section
(counts and warnings change with it), retargeted at ``#segments`` or ``#members``.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.views.decorators.http import require_http_methods, require_safe
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from accounts import segments as segment_services
from accounts.models import Account, Segment

from . import services
from .exports import csv_stream_response
from .forms import MemberInviteForm, MembershipRemoveForm, MembershipRoleForm, TenantDetailsForm
from .models import Membership, Role, Tenant
from .rendering import htmx_partial, render_page
from .tenancy import get_for_tenant_or_404, role_required

NAV = "settings"
SEGMENT_LIST = "settings/segment_list.html"
MEMBER_LIST = "settings/member_list.html"


def _posted(request: HttpRequest):
    return request.POST if request.method == "POST" else None


def _leave_settings(request: HttpRequest, message: str) -> HttpResponse:
    """After an admin takes away their own admin role or membership: the settings pages
    are closed to them now, so go home (a full page load, also for htmx)."""
    messages.info(request, message)
    if htmx_partial(request):
        return HttpResponseClientRedirect(resolve_url("home"))
    return redirect("home")


# --- Home and the tenant's details --------------------------------------------------------


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def settings_home(request: HttpRequest) -> HttpResponse:
    # A copy of the tenant: an invalid form must not change the one the page header shows.
    tenant = Tenant.objects.get(pk=request.tenant.pk)
    form = TenantDetailsForm(_posted(request), instance=tenant)
    if request.method == "POST" and form.is_valid():
        services.tenant_update(tenant=tenant, **form.cleaned_data)
        messages.success(request, "Company details saved.")
        return redirect("settings:home")
    members = Membership.objects.filter(tenant=request.tenant).select_related("user")
    context = {
        "nav": NAV,
        "form": form,
        "segment_count": Segment.objects.filter(tenant=request.tenant).count(),
        "member_count": len(members),
        "pending_count": sum(1 for m in members if not m.user.has_usable_password()),
    }
    return render_page(request, "settings/home.html", context)


# --- Segments ------------------------------------------------------------------------------


def _segment_list_context(request: HttpRequest, *, notice: str = "") -> dict:
    segments = list(segment_services.segments_with_book(tenant=request.tenant))
    return {
        "nav": NAV,
        "segments": segments,
        "gaps": [gap.describe(request.tenant.currency) for gap in segment_services.segment_band_gaps(segments)],
        "without_segment": segment_services.accounts_without_segment(tenant=request.tenant),
        "notice": notice,
    }


def _segments_changed(request: HttpRequest, notice: str) -> HttpResponse:
    if htmx_partial(request):
        response = render_page(request, SEGMENT_LIST, _segment_list_context(request, notice=notice), partial="section")
        return reswap(retarget(response, "#segments"), "outerHTML")
    messages.success(request, notice)
    return redirect("settings:segments")


@role_required(Role.ADMIN)
@require_safe
def segment_list(request: HttpRequest) -> HttpResponse:
    return render_page(request, SEGMENT_LIST, _segment_list_context(request), partial="section")


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def segment_create(request: HttpRequest) -> HttpResponse:
    form = segment_services.SegmentForm(_posted(request), tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        segment = segment_services.segment_save(tenant=request.tenant, form=form)
        return _segments_changed(request, f"Added “{segment.name}”; accounts re-assigned by ARR.")
    return render_page(request, "settings/segment_form.html", {"nav": NAV, "form": form, "segment": None})


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = get_for_tenant_or_404(Segment.objects.all(), request, pk=segment_id)
    saved_name = segment.name  # the form writes the submitted values onto the instance
    # Its own ids: several rows of the table may be in edit mode at once.
    form = segment_services.SegmentForm(
        _posted(request), instance=segment, tenant=request.tenant, auto_id=f"id_segment{segment.pk}_%s"
    )
    if request.method == "POST" and form.is_valid():
        segment = segment_services.segment_save(tenant=request.tenant, form=form)
        return _segments_changed(request, f"Saved “{segment.name}”; accounts re-assigned by ARR.")
    context = {"nav": NAV, "form": form, "segment": segment, "segment_name": saved_name}
    return render_page(request, "settings/segment_form.html", context, partial="form_row")


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = get_for_tenant_or_404(Segment.objects.all(), request, pk=segment_id)
    error = ""
    if request.method == "POST":
        try:
            segment_services.segment_delete(segment=segment)
        except segment_services.SegmentHasPinnedAccountsError as exc:
            error = str(exc)
        else:
            return _segments_changed(request, f"Deleted “{segment.name}”; its accounts were re-assigned by ARR.")
    accounts = Account.objects.filter(tenant=request.tenant, segment=segment)
    context = {
        "nav": NAV,
        "segment": segment,
        "error": error,
        "account_count": accounts.count(),
        "pinned_count": accounts.filter(segment_pinned=True).count(),
    }
    return render_page(request, "settings/segment_delete.html", context, partial="confirm_row")


# --- Users and roles -------------------------------------------------------------------------


def _member_list_context(request: HttpRequest, *, notice: str = "", error: str = "") -> dict:
    members = (
        Membership.objects.filter(tenant=request.tenant)
        .select_related("user")
        .annotate(account_count=Count("user__owned_accounts", filter=Q(user__owned_accounts__tenant=F("tenant"))))
        .order_by("user__full_name", "user__email")
    )
    return {"nav": NAV, "members": members, "roles": Role.choices, "notice": notice, "error": error}


def _members_changed(request: HttpRequest, *, notice: str = "", error: str = "") -> HttpResponse:
    if htmx_partial(request):
        context = _member_list_context(request, notice=notice, error=error)
        response = render_page(request, MEMBER_LIST, context, partial="section")
        return reswap(retarget(response, "#members"), "outerHTML")
    if error:
        messages.error(request, error)
    else:
        messages.success(request, notice)
    return redirect("settings:members")


def _member_of_tenant(request: HttpRequest, membership_id: int) -> Membership:
    # Membership keeps a plain manager: the tenant filter here is the only one.
    return get_for_tenant_or_404(Membership.objects.select_related("user", "tenant"), request, pk=membership_id)


@role_required(Role.ADMIN)
@require_safe
def member_list(request: HttpRequest) -> HttpResponse:
    context = _member_list_context(request)
    if request.GET.get("format") == "csv":
        return csv_stream_response(
            tenant=request.tenant,
            name="members",
            header=["name", "e-mail", "role", "accounts owned"],
            rows=([m.user.full_name, m.user.email, m.get_role_display(), m.account_count] for m in context["members"]),
        )
    return render_page(request, MEMBER_LIST, context, partial="section")


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def member_invite(request: HttpRequest) -> HttpResponse:
    form = MemberInviteForm(_posted(request), tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.member_invite(
                tenant=request.tenant,
                invited_by=request.user,
                request_base_url=request.build_absolute_uri("/"),
                **form.cleaned_data,
            )
        except services.AlreadyMemberError as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, f"Invited {membership.user.email} as {membership.get_role_display()}.")
            return redirect("settings:members")
    return render_page(request, "settings/member_invite.html", {"nav": NAV, "form": form})


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _member_of_tenant(request, membership_id)
    form = MembershipRoleForm(_posted(request), initial={"role": membership.role})
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_change_role(membership=membership, role=form.cleaned_data["role"])
        except services.LastAdminError as exc:
            if htmx_partial(request):
                return _members_changed(request, error=str(exc))
            form.add_error("role", str(exc))
        else:
            if membership.user_id == request.user.pk and not membership.is_admin:
                return _leave_settings(request, f"You are now {membership.get_role_display()} in this company.")
            return _members_changed(request, notice=f"{membership.user} is now {membership.get_role_display()}.")
    return render_page(request, "settings/member_role.html", {"nav": NAV, "form": form, "membership": membership})


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _member_of_tenant(request, membership_id)
    form = MembershipRemoveForm(_posted(request), membership=membership)
    if request.method == "POST" and form.is_valid():
        try:
            reassigned = services.membership_remove(membership=membership, reassign_to=form.cleaned_data["reassign_to"])
        except services.OwnsAccountsError as exc:
            form.add_error("reassign_to", str(exc))
        except services.LastAdminError as exc:
            form.add_error(None, str(exc))
        else:
            if membership.user_id == request.user.pk:
                return _leave_settings(request, f"You left {request.tenant.name}.")
            notice = f"Removed {membership.user} from {request.tenant.name}."
            if reassigned:
                heir = form.cleaned_data["reassign_to"].user
                notice += f" {reassigned} account{'s' if reassigned != 1 else ''} moved to {heir}."
            return _members_changed(request, notice=notice)
    context = {
        "nav": NAV,
        "form": form,
        "membership": membership,
        "account_count": Account.objects.filter(tenant=request.tenant, owner_id=membership.user_id).count(),
    }
    return render_page(request, "settings/member_remove.html", context, partial="confirm_row")


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def member_invite_resend(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _member_of_tenant(request, membership_id)
    joined = membership.user.has_usable_password()
    if request.method == "POST":
        if joined:
            return _members_changed(request, error=f"{membership.user} has joined already: nothing to resend.")
        services.member_invite_email_send(
            membership=membership, invited_by=request.user, request_base_url=request.build_absolute_uri("/")
        )
        return _members_changed(request, notice=f"Sent the invitation to {membership.user.email} again.")
    return render_page(
        request, "settings/member_invite_resend.html", {"nav": NAV, "membership": membership, "joined": joined}
    )
