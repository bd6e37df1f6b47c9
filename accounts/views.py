from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import reswap, trigger_client_event

from csplatform.exports import csv_stream_response
from csplatform.rendering import htmx_partial, render_page
from csplatform.tenancy import get_for_tenant_or_404, member_required

from .account360 import account_page_context, contacts_context, header_context, timeline_context
from .forms import AccountForm, ActivityForm, ContactForm, ContactLeftForm
from .models import Account, Contact
from .portfolio import portfolio_context, portfolio_export_rows
from .services import (
    KEY_CONTACT_ROLES,
    account_update,
    activity_log,
    can_edit_account,
    can_reassign_account_owner,
    contact_mark_left,
    contact_save,
    tenant_today,
)


@member_required
def my_book(request: HttpRequest) -> HttpResponse:
    """The signed-in user's own accounts: searchable, filterable, sortable, paged."""
    context = {**portfolio_context(request, mine=True), "nav": "my_book", "title": "My book"}
    return render_page(request, "accounts/portfolio.html", context, partial="results")


@member_required
def all_accounts(request: HttpRequest) -> HttpResponse:
    """Every account of the active tenant, with the same search, filters and sorting."""
    context = {**portfolio_context(request, mine=False), "nav": "all_accounts", "title": "All accounts"}
    return render_page(request, "accounts/portfolio.html", context, partial="results")


@member_required
@require_GET
def my_book_export(request: HttpRequest) -> HttpResponse:
    """My book as CSV: the same filters and sort as the page, every page of it."""
    header, rows = portfolio_export_rows(request, mine=True)
    return csv_stream_response(tenant=request.tenant, name="my-book", header=header, rows=rows)


@member_required
@require_GET
def all_accounts_export(request: HttpRequest) -> HttpResponse:
    """All accounts as CSV: the same filters and sort as the page, every page of it."""
    header, rows = portfolio_export_rows(request, mine=False)
    return csv_stream_response(tenant=request.tenant, name="accounts", header=header, rows=rows)


# --- Account 360 and its write actions -----------------------------------------------------

DETAIL = "accounts/detail.html"
FORM_PAGE = "accounts/_modal_form.html"


def _account_of(request: HttpRequest, account_id: int) -> Account:
    return get_for_tenant_or_404(Account.objects.select_related("owner", "segment"), request, pk=account_id)


def _contact_of(request: HttpRequest, account: Account, contact_id: int) -> Contact:
    """A contact of the request's tenant and of the account in the URL, or 404."""
    return get_for_tenant_or_404(Contact.objects.all(), request, pk=contact_id, account=account)


def _require_edit(request: HttpRequest, account: Account) -> None:
    if not can_edit_account(request.membership, account):
        raise PermissionDenied("Only the account's owner, a CS leader or an admin can change this account.")


def _timeline_offset(request: HttpRequest) -> int:
    value = request.GET.get("offset", "")
    return min(int(value), 10**9) if value.isdecimal() else 0


def _new_activity_form(request: HttpRequest, account: Account, *, focus: bool = False) -> ActivityForm:
    now = timezone.localtime().replace(second=0, microsecond=0)  # the tenant's time zone is active
    initial = {"occurred_at": now, "team": [request.user]}
    return ActivityForm(tenant=request.tenant, account=account, initial=initial, focus=focus)


def _form_page(request: HttpRequest, account: Account, form, *, status: int = 200, **page) -> HttpResponse:
    """A write action's form: the modal's content for htmx, a page of its own otherwise."""
    context = {"account": account, "account_name": account.name, "form": form, **page}
    return render_page(request, FORM_PAGE, context, partial="form", status=status)


def _account_changed(request: HttpRequest, account: Account, message: str) -> HttpResponse:
    """After a change made in the modal: htmx gets the header and the contacts swapped out of
    band and the modal closed; a plain form post goes back to the page."""
    if not htmx_partial(request):
        messages.success(request, message)
        return redirect("accounts:detail", account_id=account.pk)
    context = {**header_context(request, account), **contacts_context(request, account), "saved_message": message}
    response = render_page(request, DETAIL, context, partial="account_changed")
    reswap(response, "none")
    return trigger_client_event(response, "closeModal")


@member_required
@require_GET
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    """Account 360: the account's facts, ARR by product, contacts, org map and timeline.
    ``?offset=`` moves the timeline window; htmx then gets only the older activities."""
    account = _account_of(request, account_id)
    offset = _timeline_offset(request)
    if htmx_partial(request) and "offset" in request.GET:
        context = {**timeline_context(request, account, offset=offset), "focus_first": True}
        return render_page(request, DETAIL, context, partial="timeline_items")
    # The activity form is fetched when its section opens (``log_activity``): with a large
    # team its picker of every member would be most of this page's work and weight.
    return render_page(request, DETAIL, account_page_context(request, account, activity_form=None, offset=offset))


@member_required
@require_http_methods(["GET", "POST"])
def log_activity(request: HttpRequest, account_id: int) -> HttpResponse:
    """Any member of the tenant may log an activity at any of its accounts. htmx gets a fresh
    form with the timeline swapped out of band, or the form with its errors (422)."""
    account = _account_of(request, account_id)
    if request.method == "GET":
        if not htmx_partial(request):
            return redirect(reverse("accounts:detail", kwargs={"account_id": account.pk}) + "#log-activity")
        return render_page(
            request,
            DETAIL,
            {"account": account, "activity_form": _new_activity_form(request, account, focus=True)},
            partial="activity_form",
        )
    form = ActivityForm(request.POST, tenant=request.tenant, account=account)
    if form.is_valid():
        try:
            activity_log(tenant=request.tenant, account=account, author=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if not htmx_partial(request):
                messages.success(request, "Activity logged.")
                return redirect("accounts:detail", account_id=account.pk)
            context = {
                **timeline_context(request, account),
                "activity_form": _new_activity_form(request, account, focus=True),
                "saved_message": "Activity logged.",
            }
            return render_page(request, DETAIL, context, partial="activity_logged")
    if htmx_partial(request):
        return render_page(
            request, DETAIL, {"account": account, "activity_form": form}, partial="activity_form", status=422
        )
    return render_page(request, DETAIL, account_page_context(request, account, activity_form=form), status=422)


@member_required
@require_http_methods(["GET", "POST"])
def edit_account(request: HttpRequest, account_id: int) -> HttpResponse:
    """Edit the account (its owner, a leader or an admin); only a leader or an admin sees the
    owner field, and a CSM who posts an owner change anyway is refused."""
    account = _account_of(request, account_id)
    _require_edit(request, account)
    with_owner = can_reassign_account_owner(request.membership, account)
    # Taken before binding: a bound model form writes its input onto the instance.
    page = {
        "title": f"Edit {account.name}",
        "account_name": account.name,
        "action": request.path,
        "submit_label": "Save account",
    }
    if request.method == "GET":
        form = AccountForm(instance=account, tenant=request.tenant, with_owner=with_owner)
        return _form_page(request, account, form, **page)
    if not with_owner and request.POST.get("owner", str(account.owner_id or "")) != str(account.owner_id or ""):
        raise PermissionDenied("Only a CS leader or an admin can reassign an account.")
    form = AccountForm(request.POST, instance=account, tenant=request.tenant, with_owner=with_owner)
    if form.is_valid():
        try:
            account_update(account=account, **{"owner": account.owner, **form.cleaned_data})
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _account_changed(request, account, f"{account.name} saved.")
    return _form_page(request, account, form, status=422, **page)


def _contact_form(request: HttpRequest, account: Account, contact: Contact | None) -> HttpResponse:
    title = f"Edit {contact.name}" if contact else f"Add a contact at {account.name}"
    page = {"title": title, "action": request.path, "submit_label": "Save contact"}
    if request.method == "GET":
        return _form_page(request, account, ContactForm(instance=contact, account=account), **page)
    form = ContactForm(request.POST, instance=contact, account=account)
    if form.is_valid():
        try:
            saved = contact_save(
                tenant=request.tenant, account=account, contact=contact, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _account_changed(request, account, f"{saved.name} saved.")
    return _form_page(request, account, form, status=422, **page)


@member_required
@require_http_methods(["GET", "POST"])
def add_contact(request: HttpRequest, account_id: int) -> HttpResponse:
    """Add a contact (the account's owner, a leader or an admin)."""
    account = _account_of(request, account_id)
    _require_edit(request, account)
    return _contact_form(request, account, None)


@member_required
@require_http_methods(["GET", "POST"])
def edit_contact(request: HttpRequest, account_id: int, contact_id: int) -> HttpResponse:
    """Edit a contact of this account (the account's owner, a leader or an admin)."""
    account = _account_of(request, account_id)
    contact = _contact_of(request, account, contact_id)
    _require_edit(request, account)
    return _contact_form(request, account, contact)


@member_required
@require_http_methods(["GET", "POST"])
def mark_contact_left(request: HttpRequest, account_id: int, contact_id: int) -> HttpResponse:
    """Record a contact's departure (kept, struck through, with the date and a note)."""
    account = _account_of(request, account_id)
    contact = _contact_of(request, account, contact_id)
    _require_edit(request, account)
    today = tenant_today(request.tenant)
    page = {
        "title": f"Mark {contact.name} as left",
        "action": request.path,
        "submit_label": "Mark as left",
        "warning": (
            f"{contact.name} is the {contact.get_role_display().lower()}: a departure here is a top churn risk. "
            "Plan who takes over the relationship."
        )
        if contact.role in KEY_CONTACT_ROLES
        else "",
    }
    if request.method == "GET":
        form = ContactLeftForm(today=today, initial={"left_on": contact.left_on or today, "note": contact.left_note})
        return _form_page(request, account, form, **page)
    form = ContactLeftForm(request.POST, today=today)
    if not form.is_valid():
        return _form_page(request, account, form, status=422, **page)
    contact_mark_left(contact=contact, by=request.user, **form.cleaned_data)
    return _account_changed(request, account, f"{contact.name} marked as left.")
