"""Forms of the Account 360 page. They validate and offer choices; the writes are services.

Every choice (owner, segment, our people, their contacts, reports to) lists only the active
tenant's rows, and for contacts only this account's, so another tenant's or account's id fails
validation like any other bad value."""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.db.models import Q, QuerySet

from csplatform.forms import BootstrapFormMixin, FastSelectMultiple
from csplatform.models import Tenant, User

from .models import Account, Activity, ActivityKind, Contact, Segment
from .services import ACCOUNT_FACTS, contact_reports_to_check

# DOMAIN.md §8: every touch has a purpose, and "just checking in" is not one.
NOT_A_PURPOSE = {"checking in", "just checking in", "check in", "touching base", "touch base", "catch up", "catchup"}


TEAM_CHECKBOX_LIMIT = 25


def tenant_members(tenant: Tenant) -> QuerySet[User]:
    return User.objects.filter(memberships__tenant=tenant).only("full_name", "email").order_by("full_name", "email")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class ActivityForm(BootstrapFormMixin, forms.ModelForm):
    """Log an activity. Any member of the tenant may; our people are the tenant's members and
    their contacts this account's current contacts."""

    team = forms.ModelMultipleChoiceField(
        label="Our people",
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Who of us took part? Choose at least one person."},
    )
    contacts = forms.ModelMultipleChoiceField(
        label="Their contacts",
        queryset=Contact.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Activity
        fields = ["kind", "occurred_at", "team", "contacts", "purpose", "summary", "next_step", "next_step_due"]
        widgets = {
            "occurred_at": DateTimeInput(),
            "summary": forms.Textarea(attrs={"rows": 3}),
            "next_step_due": DateInput(),
        }
        help_texts = {"purpose": "What it was for. “Just checking in” is not a purpose."}

    def __init__(self, *args, tenant: Tenant, account: Account, focus: bool = False, **kwargs):
        # ``focus``: the fresh form after a logged activity takes the focus, ready for the next one.
        self.autofocus_field = "kind" if focus else None
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = ActivityKind.choices  # no blank: a call is the usual touch
        self.fields["occurred_at"].help_text = f"Time in {tenant.time_zone.replace('_', ' ')}."
        self.fields["team"].queryset = tenant_members(tenant)
        # Checkboxes read best for a team of a few; a large one gets a compact multi-select.
        self.team_as_checkboxes = self.fields["team"].queryset.count() <= TEAM_CHECKBOX_LIMIT
        if not self.team_as_checkboxes:
            widget = FastSelectMultiple(attrs={"class": "form-select", "size": 6})
            widget.choices = self.fields["team"].choices
            self.fields["team"].widget = widget
            self.fields["team"].help_text = "Hold Ctrl (or Cmd) to choose several."
        self.fields["contacts"].queryset = Contact.objects.filter(tenant=tenant, account=account).active()

    def clean_purpose(self) -> str:
        purpose = self.cleaned_data["purpose"]
        if re.sub(r"[^a-z ]+", "", purpose.lower()).strip() in NOT_A_PURPOSE:
            raise forms.ValidationError("Say what it was for: “just checking in” is not a purpose.")
        return purpose

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("next_step_due") and not cleaned.get("next_step"):
            self.add_error("next_step", "Say what the next step is, since it has a due date.")
        return cleaned


class ContactForm(BootstrapFormMixin, forms.ModelForm):
    """Add or edit a contact. ``reports_to`` offers the account's other current contacts
    (and the current manager, even if they left) and refuses a loop."""

    autofocus_field = "name"

    # Declared, not generated: the generated field would query contacts with no tenant active.
    reports_to = forms.ModelChoiceField(label="Reports to", queryset=Contact.objects.none(), required=False)

    class Meta:
        model = Contact
        fields = ["name", "title", "email", "role", "level", "reports_to"]

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account
        managers = Contact.objects.filter(tenant_id=account.tenant_id, account=account)
        managers = managers.filter(Q(left_on__isnull=True) | Q(pk=self.instance.reports_to_id))
        if self.instance.pk:
            managers = managers.exclude(pk=self.instance.pk)
        self.fields["reports_to"].queryset = managers.order_by("name")
        self.fields["reports_to"].empty_label = "No one here (top of the map)"

    def clean_reports_to(self) -> Contact | None:
        manager = self.cleaned_data["reports_to"]
        subject = self.instance if self.instance.pk else Contact(tenant_id=self.account.tenant_id, account=self.account)
        contact_reports_to_check(contact=subject, reports_to=manager)
        return manager


class ContactLeftForm(BootstrapFormMixin, forms.Form):
    """Record that a contact left the customer."""

    autofocus_field = "left_on"

    left_on = forms.DateField(
        label="Left on", widget=DateInput(), error_messages={"required": "Enter the day they left."}
    )
    note = forms.CharField(
        label="Note",
        max_length=300,
        required=False,
        help_text="Where did they go, and who takes over their part?",
    )

    def __init__(self, *args, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_left_on(self) -> dt.date:
        left_on = self.cleaned_data["left_on"]
        if left_on > self.today:
            raise forms.ValidationError("Record a departure once it has happened (today or earlier).")
        return left_on


class AccountForm(BootstrapFormMixin, forms.ModelForm):
    """Edit an account. The owner field exists only for those who may reassign the account
    (``with_owner``); a segment of one's choosing must be pinned, since an unpinned account
    follows its ARR band."""

    autofocus_field = "name"

    segment = forms.ModelChoiceField(queryset=Segment.objects.none(), required=False)

    class Meta:
        model = Account
        fields = list(ACCOUNT_FACTS)
        widgets = {"customer_since": DateInput()}
        labels = {"segment_pinned": "Pin this segment"}

    def __init__(self, *args, tenant: Tenant, with_owner: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.filter(tenant=tenant).order_by("-arr_min")
        self.fields["segment"].empty_label = "No segment"
        if with_owner:
            self.fields["owner"].queryset = tenant_members(tenant)
            self.fields["owner"].empty_label = "Unassigned"
        else:
            del self.fields["owner"]

    def clean_domain(self) -> str:
        domain = self.cleaned_data["domain"].strip().lower()
        return re.sub(r"^https?://", "", domain).rstrip("/")

    def clean(self):
        cleaned = super().clean()
        if "segment" in self.changed_data and not cleaned.get("segment_pinned"):
            self.add_error(
                "segment",
                "Tick “Pin this segment” to keep a segment of your choice: an unpinned account follows its ARR band.",
            )
        return cleaned
