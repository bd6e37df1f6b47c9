"""Forms of the playbooks pages. Choices come from the active tenant only, so another tenant's
ids fail validation like any other bad value."""

from __future__ import annotations

import datetime as dt

from django import forms

from accounts.models import ActivityKind, Segment
from csplatform.forms import BootstrapFormMixin, FastSelect
from csplatform.models import Tenant, User

from .models import AssigneeKind, Playbook, StepAction, TaskTemplate, TriggerKind
from .services import DEFAULT_COMPLETION_KIND, task_assignees
from .triggers import TRIGGER_PARAMS, Param

SNOOZE_CHOICES = [("1", "1 day"), ("7", "1 week"), ("date", "Until a date")]


class TaskCompleteForm(BootstrapFormMixin, forms.Form):
    outcome = forms.CharField(
        label="Outcome",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What came of it, and the next step. Logged on the account's timeline.",
    )
    kind = forms.ChoiceField(
        label="Logged as",
        choices=ActivityKind.choices,
        initial=DEFAULT_COMPLETION_KIND,
        help_text="A call, meeting, QBR, EBR or on-site visit counts as a meaningful touch in health.",
    )

    def __init__(self, *args, task_id: int, **kwargs) -> None:
        # Several rows may have their form open at once: ids per task.
        super().__init__(*args, auto_id=f"id_task{task_id}_%s", **kwargs)
        self.fields["outcome"].widget.attrs["autofocus"] = True


class TaskSnoozeForm(BootstrapFormMixin, forms.Form):
    snooze = forms.ChoiceField(label="Snooze for", choices=SNOOZE_CHOICES, initial="1", widget=forms.RadioSelect)
    until = forms.DateField(
        label="Until", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args, task_id: int, today: dt.date, **kwargs) -> None:
        super().__init__(*args, auto_id=f"id_task{task_id}_%s", **kwargs)
        self.today = today

    def clean(self):
        data = super().clean()
        choice = data.get("snooze")
        if choice == "date":
            if not data.get("until"):
                self.add_error("until", "Choose the day the task comes back.")
        elif choice:
            data["until"] = self.today + dt.timedelta(days=int(choice))
        return data


class TaskReassignForm(BootstrapFormMixin, forms.Form):
    # Plain (id, name) rows, not model instances: a large team has over a thousand members.
    assignee = forms.TypedChoiceField(label="Give to", coerce=int, widget=FastSelect)

    def __init__(self, *args, task_id: int, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, auto_id=f"id_task{task_id}_%s", **kwargs)
        self.fields["assignee"].choices = [("", "Choose a person"), *task_assignees(tenant=tenant)]

    def clean_assignee(self) -> User:
        return User.objects.get(pk=self.cleaned_data["assignee"])


class TaskFilterForm(forms.Form):
    """Whose tasks the inbox shows (leaders may look at a teammate's) and, on the team queue,
    overdue only. A bad value is dropped, the page still renders."""

    assignee = forms.TypedChoiceField(label="Whose tasks", coerce=int, required=False, empty_value=None)
    overdue = forms.BooleanField(label="Overdue only", required=False)

    def __init__(self, *args, tenant: Tenant, everyone_label: str = "", with_overdue: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not with_overdue:
            del self.fields["overdue"]
        first = [("", everyone_label)] if everyone_label else []
        self.fields["assignee"].choices = first + task_assignees(tenant=tenant)
        self.fields["assignee"].widget = FastSelect(
            attrs={"class": "form-select"}, choices=self.fields["assignee"].choices
        )
        if with_overdue:
            self.fields["overdue"].widget.attrs["class"] = "form-check-input"

    def valid_filters(self) -> dict:
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "", False)}


# --- Configuration (admins) ------------------------------------------------------------------


def _param_field(param: Param) -> forms.Field:
    """A form field for one trigger parameter (``playbooks.triggers.Param``)."""
    common = {"label": param.label, "help_text": param.help, "initial": param.default}
    if param.choices:
        return forms.ChoiceField(choices=param.choices, **common)
    return forms.IntegerField(min_value=param.min, max_value=param.max, **common)


class TriggerForm(BootstrapFormMixin, forms.Form):
    """A trigger: its kind decides its parameters (fields ``param_<name>``, from the kind's
    spec in ``playbooks.triggers.TRIGGER_PARAMS``)."""

    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(label="When", choices=TriggerKind.choices)
    playbook = forms.ModelChoiceField(label="Run playbook", queryset=Playbook.objects.none(), empty_label="Choose")
    segments = forms.ModelMultipleChoiceField(
        queryset=Segment.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every segment.",
    )

    def __init__(self, *args, tenant: Tenant, kind: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["playbook"].queryset = Playbook.objects.filter(tenant=tenant).order_by("name")
        self.fields["segments"].queryset = Segment.objects.filter(tenant=tenant).order_by("-arr_min")
        self.fields["kind"].widget.attrs["class"] = "form-select"
        chosen = kind if kind in TRIGGER_PARAMS else (self.data.get("kind") or self.initial.get("kind"))
        self.param_names: list[str] = []
        for param in TRIGGER_PARAMS.get(chosen, ()):
            field = _param_field(param)
            field.widget.attrs["class"] = "form-select" if param.choices else "form-control"
            self.fields[f"param_{param.name}"] = field
            self.param_names.append(param.name)

    @property
    def param_fields(self):
        return [self[f"param_{name}"] for name in self.param_names]

    def params(self) -> dict:
        return {name: self.cleaned_data.get(f"param_{name}") for name in self.param_names}


class PlaybookForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Playbook
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class StepForm(BootstrapFormMixin, forms.ModelForm):
    assignee_user = forms.TypedChoiceField(
        label="Named person", coerce=int, required=False, empty_value=None, widget=FastSelect
    )

    class Meta:
        model = TaskTemplate
        fields = [
            "title",
            "purpose",
            "due_offset_days",
            "action",
            "assignee_kind",
            "assignee_user",
            "guidance",
            "email_subject",
            "email_body",
        ]
        labels = {"assignee_kind": "Assignee", "email_subject": "E-mail subject", "email_body": "E-mail body"}
        widgets = {
            "guidance": forms.Textarea(attrs={"rows": 2}),
            "email_body": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee_user"].choices = [("", "Nobody named"), *task_assignees(tenant=tenant)]
        if self.instance.assignee_user_id:
            self.initial["assignee_user"] = self.instance.assignee_user_id
        self.fields["assignee_user"].widget.attrs["class"] = "form-select"
        self.fields["assignee_kind"].choices = AssigneeKind.choices
        self.fields["action"].choices = StepAction.choices

    def clean_assignee_user(self) -> User | None:
        user_id = self.cleaned_data.get("assignee_user")
        return User.objects.filter(pk=user_id).first() if user_id else None

    def step_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
