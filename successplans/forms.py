"""Forms of the success-plan pages. They validate and offer the active tenant's choices only;
the writes are services."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from accounts.forms import DateInput, tenant_members
from accounts.models import Account, Contact, Segment
from csplatform.forms import BootstrapFormMixin
from csplatform.models import Tenant, User

from .models import (
    FIT_QUESTIONS,
    NEW_ACCOUNT_STAGES,
    Handoff,
    ImpactJourney,
    Measure,
    Milestone,
    MilestoneStatus,
    OwnerSide,
    RelationshipSettings,
    ReviewKind,
    SuccessPlan,
)
from .services import PLAN_FIELDS, win_story_vendor_check

TEXTAREA = forms.Textarea(attrs={"rows": 3})
WIN_FIELDS = ("win_protagonist_name", "win_protagonist_title", "win_problem", "win_decision_criteria")
SPICED_FIELDS = ("situation", "pain", "impact", "critical_event", "critical_event_date", "decision_criteria")


class HandoffForm(BootstrapFormMixin, forms.ModelForm):
    """The SPICED record, the fit check and the win story. A new handoff also picks its
    account among the tenant's new accounts that have neither a handoff nor a plan yet. Everything may stay blank in a
    draft; submitting asks for the SPICED and the fit check (``handoff_submit``)."""

    account = forms.ModelChoiceField(
        queryset=Account.objects.none(), empty_label="Choose the new account", required=False
    )
    # Or a brand-new account, created with the handoff (``handoff_create_with_account``).
    new_account_name = forms.CharField(label="Or a new account's name", max_length=200, required=False)
    new_account_domain = forms.CharField(label="Its domain", max_length=200, required=False)
    new_account_segment = forms.ModelChoiceField(
        label="Its segment",
        queryset=Segment.objects.none(),
        required=False,
        empty_label="By its ARR, later",
        help_text="Seeds the plan from the segment's impact journey.",
    )
    new_account_customer_since = forms.DateField(
        label="Contract starts", required=False, widget=DateInput(), help_text="TTFV counts from this day."
    )
    NEW_ACCOUNT_FIELDS = ("new_account_name", "new_account_domain", "new_account_segment", "new_account_customer_since")

    class Meta:
        model = Handoff
        fields = [*SPICED_FIELDS, *FIT_QUESTIONS, *WIN_FIELDS]
        widgets = {
            "situation": TEXTAREA,
            "pain": TEXTAREA,
            "impact": TEXTAREA,
            "critical_event": forms.Textarea(attrs={"rows": 2}),
            "critical_event_date": DateInput(),
            "decision_criteria": TEXTAREA,
            "win_problem": forms.Textarea(attrs={"rows": 2}),
            "win_decision_criteria": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {"win_protagonist_name": "The customer's person the story is about, e.g. Maya Chen."}

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        if self.instance.pk:
            for name in ("account", *self.NEW_ACCOUNT_FIELDS):
                del self.fields[name]
        else:
            self.fields["new_account_segment"].queryset = Segment.objects.filter(tenant=tenant).order_by("-arr_min")
            # A handoff is for a new account (handoff or onboarding stage, newest first): none
            # yet, and no plan started without one.
            self.fields["account"].queryset = (
                Account.objects.filter(tenant=tenant, lifecycle_stage__in=NEW_ACCOUNT_STAGES)
                .exclude(handoffs__isnull=False)
                .exclude(success_plans__isnull=False)
                .select_related("owner")
                .order_by("-customer_since", "name")
            )
            # Sales sees who will review: the account's CSM (a leader reviews while unassigned).
            self.fields["account"].label_from_instance = lambda account: (
                f"{account.name} · CSM {account.owner or 'unassigned'}"
            )
            self.order_fields(["account", *self.NEW_ACCOUNT_FIELDS])
        for name, question in FIT_QUESTIONS.items():
            self.fields[name].help_text = question
            self.fields[name].choices = [("", "Not assessed yet"), *self.fields[name].choices[1:]]

    def clean(self):
        cleaned = super().clean()
        if "account" in self.fields:
            chosen, named = cleaned.get("account"), cleaned.get("new_account_name", "").strip()
            if chosen and named:
                self.add_error("new_account_name", "Choose an account above or name a new one, not both.")
            elif not chosen and not named and "account" not in self.errors:
                self.add_error("account", "Choose the new account, or name it below if it is not here yet.")
        try:
            win_story_vendor_check(tenant=self.tenant, texts={name: cleaned.get(name, "") for name in WIN_FIELDS})
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field, messages)
        return cleaned


class ImpactStatementForm(BootstrapFormMixin, forms.Form):
    """One measurable impact statement; a blank row is ignored."""

    statement = forms.CharField(max_length=300, required=False)
    measure = forms.CharField(max_length=120, required=False)
    baseline = forms.DecimalField(max_digits=14, decimal_places=2, required=False)
    target = forms.DecimalField(max_digits=14, decimal_places=2, required=False)
    unit = forms.CharField(max_length=30, required=False)

    def clean(self):
        cleaned = super().clean()
        if not any(value not in ("", None) for value in cleaned.values()):
            return cleaned
        for name, message in (
            ("statement", "Say what will improve."),
            ("measure", "Say what is measured."),
            ("target", "Give the target value: it makes the impact measurable."),
        ):
            if cleaned.get(name) in ("", None) and name not in self.errors:
                self.add_error(name, message)
        return cleaned

    @property
    def statement_data(self) -> dict | None:
        data = self.cleaned_data
        if not data or data.get("statement") in ("", None):
            return None
        return {name: data.get(name) if name in ("baseline", "target") else data.get(name, "") for name in self.fields}


ImpactStatementFormSet = forms.formset_factory(ImpactStatementForm, extra=0, max_num=10)
IMPACT_ROWS = 4


def impact_formset(data=None, *, handoff: Handoff | None = None) -> forms.BaseFormSet:
    """The handoff's impact statements and blank rows up to ``IMPACT_ROWS`` (one at least)."""
    initial = []
    if handoff is not None and handoff.pk:
        initial = [
            {"statement": s.statement, "measure": s.measure, "baseline": s.baseline, "target": s.target, "unit": s.unit}
            for s in handoff.impact_statements.all()
        ]
    initial += [{}] * max(IMPACT_ROWS - len(initial), 1)
    return ImpactStatementFormSet(data, initial=initial, prefix="impact")


def impact_statements_of(formset) -> list[dict]:
    return [form.statement_data for form in formset.forms if form.statement_data]


class SendBackForm(BootstrapFormMixin, forms.Form):
    autofocus_field = "comment"

    comment = forms.CharField(
        label="What should sales fix?",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        error_messages={"required": "Say what sales should fix before sending it back."},
    )


class FlagAcknowledgeForm(BootstrapFormMixin, forms.Form):
    autofocus_field = "note"

    note = forms.CharField(
        label="What did you decide?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="E.g. go ahead with extra onboarding support, or renegotiate the scope.",
        error_messages={"required": "Say what you decided about this bad fit."},
    )


class AcceptForm(BootstrapFormMixin, forms.Form):
    start_date = forms.DateField(label="Plan starts on", widget=DateInput())
    journey = forms.ModelChoiceField(
        label="Impact journey",
        queryset=ImpactJourney.objects.none(),
        required=False,
        empty_label="No journey: I will add the milestones",
        help_text="Seeds the plan's milestones, due relative to its start.",
    )

    def __init__(self, *args, account: Account, **kwargs):
        super().__init__(*args, **kwargs)
        journeys = ImpactJourney.objects.filter(tenant_id=account.tenant_id, segment_id=account.segment_id)
        self.fields["journey"].queryset = journeys if account.segment_id else ImpactJourney.objects.none()
        if not self.is_bound:
            self.initial.setdefault("journey", next(iter(journeys), None) if account.segment_id else None)


class PlanForm(BootstrapFormMixin, forms.ModelForm):
    autofocus_field = "first_value_goal"

    class Meta:
        model = SuccessPlan
        fields = list(PLAN_FIELDS)
        widgets = {
            "first_value_goal": TEXTAREA,
            "twelve_month_goal": TEXTAREA,
            "next_steps": TEXTAREA,
            "first_value_target_date": DateInput(),
            "first_value_met_on": DateInput(),
            "next_review_date": DateInput(),
        }
        help_texts = {
            "first_value_goal": "What success looks like at the end of onboarding, in the customer's words.",
            "first_value_met_on": "TTFV counts from the contract start to this day.",
        }

    def clean(self):
        cleaned = super().clean()
        met, start = cleaned.get("first_value_met_on"), self.instance.contract_start
        if met and start and met < start:
            self.add_error("first_value_met_on", f"First Value cannot come before the contract start ({start}).")
        return cleaned


class MilestoneForm(BootstrapFormMixin, forms.ModelForm):
    autofocus_field = "title"

    owner_user = forms.ModelChoiceField(
        label="Owner (our people)", queryset=User.objects.none(), required=False, empty_label="—"
    )
    owner_contact = forms.ModelChoiceField(
        label="Owner (their people)", queryset=Contact.objects.none(), required=False, empty_label="—"
    )

    class Meta:
        model = Milestone
        fields = [
            "title",
            "owner_side",
            "owner_user",
            "owner_contact",
            "due_date",
            "status",
            "done_on",
            "is_first_value",
        ]
        widgets = {"due_date": DateInput(), "done_on": DateInput()}
        help_texts = {"done_on": "Left empty, a done milestone is done today."}

    def __init__(self, *args, plan: SuccessPlan, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner_user"].queryset = tenant_members(plan.tenant)
        self.fields["owner_contact"].queryset = Contact.objects.filter(
            tenant_id=plan.tenant_id, account_id=plan.account_id
        ).active()


class MilestoneQuickAddForm(MilestoneForm):
    """The plan page's short form: title, side and due date; the milestone starts planned,
    owned by the account's CSM when it is ours. The full form edits the rest."""

    autofocus_field = None

    class Meta(MilestoneForm.Meta):
        fields = ["title", "owner_side", "due_date"]

    def __init__(self, *args, plan: SuccessPlan, **kwargs):
        super().__init__(*args, plan=plan, prefix="add", **kwargs)
        self.plan = plan
        del self.fields["owner_user"], self.fields["owner_contact"]
        self.fields["title"].widget.attrs["placeholder"] = "New milestone"

    def clean(self):
        cleaned = super().clean()
        ours = cleaned.get("owner_side") == OwnerSide.US
        cleaned["owner_user"] = self.plan.account.owner if ours else None
        cleaned["owner_contact"] = None
        cleaned["status"] = MilestoneStatus.PLANNED
        return cleaned


class MilestoneStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=MilestoneStatus.choices, error_messages={"invalid_choice": "Choose planned, in progress or done."}
    )


class MeasureCurrentForm(forms.Form):
    current = forms.DecimalField(
        max_digits=14,
        decimal_places=2,
        error_messages={"required": "Give the current value.", "invalid": "Give the current value as a number."},
    )


class MeasureForm(BootstrapFormMixin, forms.ModelForm):
    autofocus_field = "name"

    class Meta:
        model = Measure
        fields = ["name", "unit", "baseline", "target", "current"]
        help_texts = {"name": "A measure the customer chose, e.g. hours to build the month-end report."}


class ImpactReviewForm(BootstrapFormMixin, forms.Form):
    """The review's own fields, then one field for each of the plan's measures
    (``measure_<id>``): the value reported at the review; left blank, it is not reported."""

    kind = forms.ChoiceField(choices=ReviewKind.choices)
    held_on = forms.DateField(label="Held on", widget=DateInput())
    results = forms.CharField(
        label="Results against the goals", widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    objectives = forms.CharField(
        label="Measurable objectives for the next review",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Set the measurable objectives the next review will check."},
    )
    next_steps = forms.CharField(label="Next steps", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    next_review_date = forms.DateField(
        label="Next review on",
        widget=DateInput(),
        error_messages={"required": "Set the next review's date."},
    )
    contacts = forms.ModelMultipleChoiceField(
        label="Their people present",
        queryset=Contact.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, plan: SuccessPlan, measures: list[Measure], **kwargs):
        super().__init__(*args, **kwargs)
        self.measures = measures
        self.fields["contacts"].queryset = Contact.objects.filter(
            tenant_id=plan.tenant_id, account_id=plan.account_id
        ).active()
        for measure in measures:
            self.fields[f"measure_{measure.pk}"] = forms.DecimalField(
                label=f"{measure.name}{f' ({measure.unit})' if measure.unit else ''}",
                max_digits=14,
                decimal_places=2,
                required=False,
                help_text=f"Baseline {measure.baseline if measure.baseline is not None else '—'}, target "
                f"{measure.target}, last {measure.current if measure.current is not None else '—'}.",
            )
            self.fields[f"measure_{measure.pk}"].widget.attrs["class"] = "form-control"

    def clean(self):
        cleaned = super().clean()
        held, following = cleaned.get("held_on"), cleaned.get("next_review_date")
        if held and following and following <= held:
            self.add_error("next_review_date", "The next review comes after this one.")
        return cleaned

    def measure_fields(self):
        return [self[f"measure_{measure.pk}"] for measure in self.measures]

    @property
    def measure_values(self) -> dict:
        return {
            measure.pk: self.cleaned_data[f"measure_{measure.pk}"]
            for measure in self.measures
            if self.cleaned_data.get(f"measure_{measure.pk}") is not None
        }


class JourneyForm(BootstrapFormMixin, forms.ModelForm):
    autofocus_field = "name"

    segment = forms.ModelChoiceField(queryset=Segment.objects.none())

    class Meta:
        model = ImpactJourney
        fields = ["segment", "name", "description", "position"]
        help_texts = {"position": "The segment's first journey (lowest position) seeds new plans by default."}

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.filter(tenant=tenant).order_by("-arr_min")


class JourneyStepForm(BootstrapFormMixin, forms.Form):
    title = forms.CharField(max_length=200, required=False)
    owner_side = forms.ChoiceField(choices=Milestone._meta.get_field("owner_side").choices, required=False)
    due_after_days = forms.IntegerField(label="Due after (days)", min_value=0, max_value=3650, required=False)
    is_first_value = forms.BooleanField(label="First Value", required=False)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("title"):
            if cleaned.get("due_after_days") is not None or cleaned.get("is_first_value"):
                self.add_error("title", "Name the step, or clear its row.")
            return cleaned
        if cleaned.get("due_after_days") is None and "due_after_days" not in self.errors:
            self.add_error("due_after_days", "Say how many days after the plan's start it is due.")
        return cleaned

    @property
    def step_data(self) -> dict | None:
        data = getattr(self, "cleaned_data", None)
        if not data or not data.get("title"):
            return None
        return {
            "title": data["title"],
            "owner_side": data.get("owner_side") or "us",
            "due_after_days": data["due_after_days"],
            "is_first_value": bool(data.get("is_first_value")),
        }


JourneyStepFormSet = forms.formset_factory(JourneyStepForm, extra=0, max_num=30)
JOURNEY_BLANK_ROWS = 3


def journey_steps_formset(data=None, *, journey: ImpactJourney | None = None):
    initial = []
    if journey is not None and journey.pk:
        initial = [
            {
                "title": s.title,
                "owner_side": s.owner_side,
                "due_after_days": s.due_after_days,
                "is_first_value": s.is_first_value,
            }
            for s in journey.steps.all()
        ]
    initial += [{}] * JOURNEY_BLANK_ROWS
    return JourneyStepFormSet(data, initial=initial, prefix="steps")


class RelationshipSettingsForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = RelationshipSettings
        fields = ["new_relationships_per_month"]
