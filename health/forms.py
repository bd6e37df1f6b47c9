import copy
import datetime as dt

from django import forms

from accounts.models import Contact, Segment
from csplatform.forms import BootstrapFormMixin

from . import scoring, services
from .models import (
    Invoice,
    NotableEventKind,
    PulseReason,
    Sentiment,
    SurveyKind,
    TicketPriority,
    TrackedFeature,
)
from .services import PULSE_LONGEST_DAYS


class PulseForm(forms.Form):
    sentiment = forms.ChoiceField(choices=Sentiment.choices, widget=forms.Select(attrs={"class": "form-select"}))
    reason = forms.ChoiceField(
        label="Reason", choices=PulseReason.choices, widget=forms.Select(attrs={"class": "form-select"})
    )
    expires_on = forms.DateField(
        label="Until", widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d")
    )
    note = forms.CharField(required=False, max_length=300, widget=forms.TextInput(attrs={"class": "form-control"}))

    def __init__(self, *args, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["expires_on"].initial = today + dt.timedelta(days=30)
        self.fields["expires_on"].widget.attrs.update(
            {
                "min": (today + dt.timedelta(days=1)).isoformat(),
                "max": (today + dt.timedelta(days=PULSE_LONGEST_DAYS)).isoformat(),
            }
        )


def _number_input() -> forms.NumberInput:
    return forms.NumberInput(attrs={"class": "form-control form-control-sm", "inputmode": "numeric"})


def thresholds_text(thresholds: list) -> str:
    """``[[90, 100], [75, 70]]`` as the form shows it: ``90:100, 75:70``."""
    return ", ".join(f"{bound:g}:{points:g}" for bound, points in thresholds)


class HealthDefinitionForm(BootstrapFormMixin, forms.Form):
    """The admin's "Health score" settings: halves' weights, each measure's weight, thresholds
    (``raw value:points, ...`` best first) and points otherwise, and the bands (the default and,
    optionally, each segment's). ``definition`` after validation is the definition to preview or
    publish; every problem of ``health.scoring.definition_errors`` lands on the field it names."""

    def __init__(self, *args, definition: dict, segments: list[Segment], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.base_definition = definition
        self.segments = segments
        self.definition: dict | None = None
        for half in (scoring.CSM, scoring.CUSTOMER):
            self.fields[f"half_{half}"] = forms.IntegerField(
                label=f"{scoring.HALF_LABELS[half]} weight (%)",
                min_value=0,
                max_value=100,
                initial=definition["halves"][half],
                widget=_number_input(),
            )
        for measure in scoring.MEASURES:
            spec = definition["measures"].get(measure.key) or scoring.DEFAULT_DEFINITION["measures"][measure.key]
            weight = definition["measures"].get(measure.key, {}).get("weight", 0)
            direction = "higher is better" if measure.higher_is_better else "lower is better"
            self.fields[f"{measure.key}_weight"] = forms.IntegerField(
                label=f"{measure.label}: weight (%)", min_value=0, max_value=100, initial=weight, widget=_number_input()
            )
            self.fields[f"{measure.key}_thresholds"] = forms.CharField(
                label=f"{measure.label}: thresholds",
                initial=thresholds_text(spec["thresholds"]),
                help_text=f"raw value:points, best first ({direction}"
                + (", in multiples of the touch cadence" if measure.key == "last_touch" else "")
                + ")",
                widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "spellcheck": "false"}),
            )
            self.fields[f"{measure.key}_else"] = forms.IntegerField(
                label=f"{measure.label}: points otherwise",
                min_value=0,
                max_value=100,
                initial=spec["else_points"],
                widget=_number_input(),
            )
        bands = definition["bands"]
        for band in ("green", "yellow"):
            self.fields[f"band_{band}"] = forms.IntegerField(
                label=f"{band.capitalize()} from score",
                min_value=0,
                max_value=100,
                initial=bands[band],
                widget=_number_input(),
            )
        for segment in segments:
            own = bands.get("by_segment", {}).get(str(segment.pk), {})
            for band in ("green", "yellow"):
                self.fields[f"band_{segment.pk}_{band}"] = forms.IntegerField(
                    label=f"{segment.name}: {band} from",
                    required=False,
                    min_value=0,
                    max_value=100,
                    initial=own.get(band),
                    help_text="Empty: the default.",
                    widget=_number_input(),
                )

    # Groups for the template.
    def halves(self) -> list:
        return [self[f"half_{half}"] for half in (scoring.CSM, scoring.CUSTOMER)]

    def measure_groups(self) -> list[dict]:
        return [
            {
                "label": scoring.HALF_LABELS[half],
                "rows": [
                    {
                        "measure": measure,
                        "weight": self[f"{measure.key}_weight"],
                        "thresholds": self[f"{measure.key}_thresholds"],
                        "else": self[f"{measure.key}_else"],
                    }
                    for measure in scoring.MEASURES
                    if measure.half == half
                ],
            }
            for half in (scoring.CSM, scoring.CUSTOMER)
        ]

    def segment_bands(self) -> list[dict]:
        return [
            {"segment": s, "green": self[f"band_{s.pk}_green"], "yellow": self[f"band_{s.pk}_yellow"]}
            for s in self.segments
        ]

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        definition = copy.deepcopy(self.base_definition)
        definition["halves"] = {half: data[f"half_{half}"] for half in (scoring.CSM, scoring.CUSTOMER)}
        for measure in scoring.MEASURES:
            name = f"{measure.key}_thresholds"
            try:
                thresholds = _parse_thresholds(data[name])
            except ValueError:
                self.add_error(name, "Write each step as raw value:points, separated by commas, e.g. 90:100, 75:70.")
                continue
            spec = dict(definition["measures"].get(measure.key) or scoring.DEFAULT_DEFINITION["measures"][measure.key])
            spec.update(
                weight=data[f"{measure.key}_weight"], thresholds=thresholds, else_points=data[f"{measure.key}_else"]
            )
            definition["measures"][measure.key] = spec
        by_segment = {}
        for segment in self.segments:
            green, yellow = data.get(f"band_{segment.pk}_green"), data.get(f"band_{segment.pk}_yellow")
            if green is None and yellow is None:
                continue
            if green is None or yellow is None:
                self.add_error(f"band_{segment.pk}_green", "Give both thresholds of the segment, or neither.")
                continue
            by_segment[str(segment.pk)] = {"green": green, "yellow": yellow}
        definition["bands"] = {"green": data["band_green"], "yellow": data["band_yellow"], "by_segment": by_segment}
        if self.errors:
            return data
        for key, message in scoring.definition_errors(definition).items():
            self.add_error(self._field_of(key), message)
        if not self.errors:
            self.definition = definition
        return data

    def _field_of(self, error_key: str) -> str | None:
        """The form field a ``definition_errors`` key is about."""
        if error_key == "halves":
            return "half_csm"
        if error_key.endswith(".weights"):
            half = error_key.split(".")[0]
            return f"{next(m.key for m in scoring.MEASURES if m.half == half)}_weight"
        if error_key.endswith(".thresholds"):
            return f"{error_key.split('.')[0]}_thresholds"
        if error_key == "bands":
            return "band_green"
        if error_key.startswith("bands."):
            return f"band_{error_key.split('.')[1]}_green"
        return None


def _parse_thresholds(text: str) -> list[list[float]]:
    steps = []
    for step in text.split(","):
        bound, _, points = step.partition(":")
        if not points.strip():
            raise ValueError(step)
        steps.append([_number(bound), _number(points)])
    return steps


def _number(text: str) -> float | int:
    value = float(text.strip())
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return int(value) if value.is_integer() else value


# --- Recording a signal from the account's health card ---------------------------------------


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _datetime_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


class SignalForm(BootstrapFormMixin, forms.Form):
    """A form that records one kind of signal on ``account``: ``record()`` calls the signal's
    service (which queues the account's recompute after commit). A day in the future is a
    field error; choices are the tenant's own (contacts of this account, tracked features)."""

    title = ""
    future_fields: tuple[str, ...] = ()

    def __init__(self, *args, tenant, account, today: dt.date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tenant, self.account, self.today = tenant, account, today

    def clean(self) -> dict:
        data = super().clean()
        for name in self.future_fields:
            value = data.get(name)
            day = value.date() if isinstance(value, dt.datetime) else value
            if day is not None and day > self.today:
                self.add_error(name, "This cannot be in the future.")
        return data

    def record(self):  # pragma: no cover - every subclass defines it
        raise NotImplementedError


class SurveySignalForm(SignalForm):
    title = "Survey response"
    future_fields = ("responded_on",)
    autofocus_field = "kind"

    kind = forms.ChoiceField(label="Survey", choices=SurveyKind.choices)
    score = forms.IntegerField(label="Score", min_value=0, max_value=10, help_text="NPS 0-10, CSAT 1-5.")
    responded_on = forms.DateField(label="Answered on", widget=_date_input())
    contact = forms.ModelChoiceField(label="Contact", queryset=Contact.objects.none(), required=False)
    comment = forms.CharField(label="Comment", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = Contact.objects.filter(tenant=self.tenant, account=self.account)
        self.fields["responded_on"].initial = self.today

    def record(self):
        return services.survey_response_record(tenant=self.tenant, account=self.account, **self.cleaned_data)


class TicketSignalForm(SignalForm):
    title = "Support ticket"
    future_fields = ("opened_at", "closed_at")
    autofocus_field = "subject"

    subject = forms.CharField(label="Subject", max_length=200)
    priority = forms.ChoiceField(label="Priority", choices=TicketPriority.choices, initial=TicketPriority.NORMAL)
    opened_at = forms.DateTimeField(label="Opened", input_formats=DATETIME_FORMATS, widget=_datetime_input())
    closed_at = forms.DateTimeField(
        label="Closed",
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=_datetime_input(),
        help_text="Empty: open.",
    )

    def record(self):
        return services.support_ticket_record(tenant=self.tenant, account=self.account, **self.cleaned_data)


class InvoiceSignalForm(SignalForm):
    title = "Invoice"
    future_fields = ("paid_on",)
    autofocus_field = "number"

    number = forms.CharField(
        label="Invoice number",
        max_length=40,
        help_text="An existing number updates that invoice (e.g. to mark it paid).",
    )
    amount = forms.DecimalField(label="Amount", min_value=0, max_digits=14, decimal_places=2)
    issued_on = forms.DateField(label="Issued on", widget=_date_input())
    due_on = forms.DateField(label="Due on", widget=_date_input())
    paid_on = forms.DateField(label="Paid on", required=False, widget=_date_input(), help_text="Empty: unpaid.")

    def clean_number(self) -> str:
        number = self.cleaned_data["number"].strip()
        other = (
            Invoice.objects.filter(tenant=self.tenant, number=number).exclude(account=self.account).exists()
            if number
            else False
        )
        if other:
            raise forms.ValidationError("Another account already has an invoice with this number.")
        return number

    def record(self):
        return services.invoice_record(tenant=self.tenant, account=self.account, **self.cleaned_data)


class NotableEventSignalForm(SignalForm):
    title = "Notable event"
    future_fields = ("occurred_on",)
    autofocus_field = "kind"

    kind = forms.ChoiceField(label="What happened", choices=NotableEventKind.choices)
    occurred_on = forms.DateField(label="On", widget=_date_input())
    note = forms.CharField(label="Note", max_length=300, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["occurred_on"].initial = self.today

    def record(self):
        return services.notable_event_record(tenant=self.tenant, account=self.account, **self.cleaned_data)


class MarketingSignalForm(SignalForm):
    title = "Marketing engagement"
    future_fields = ("day",)
    autofocus_field = "day"

    day = forms.DateField(label="Day", widget=_date_input(), help_text="The same day again replaces its figures.")
    opens = forms.IntegerField(label="Opens", min_value=0, initial=0)
    clicks = forms.IntegerField(label="Clicks", min_value=0, initial=0)
    bounces = forms.IntegerField(label="Bounces", min_value=0, initial=0)
    opt_outs = forms.IntegerField(label="Opt-outs", min_value=0, initial=0)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["day"].initial = self.today

    def record(self):
        return services.marketing_engagement_record(tenant=self.tenant, account=self.account, **self.cleaned_data)


class UsageSignalForm(SignalForm):
    title = "Usage day"
    future_fields = ("day",)
    autofocus_field = "day"

    day = forms.DateField(label="Day", widget=_date_input(), help_text="The same day again replaces its figures.")
    active_users = forms.IntegerField(label="Active users", min_value=0)
    licensed_seats = forms.IntegerField(label="Licensed seats", min_value=0)
    features = forms.ModelMultipleChoiceField(
        label="Features used",
        queryset=TrackedFeature.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["features"].queryset = TrackedFeature.objects.filter(tenant=self.tenant)
        self.fields["day"].initial = self.today

    def record(self):
        return services.usage_day_record(tenant=self.tenant, account=self.account, **self.cleaned_data)


# kind in the URL -> form; the usage day (product telemetry, normally fed in) is corrected only by
# the account's owner, a CS leader or an admin; the other facts any CSM or above may record.
SIGNAL_FORMS: dict[str, type[SignalForm]] = {
    "survey": SurveySignalForm,
    "ticket": TicketSignalForm,
    "invoice": InvoiceSignalForm,
    "event": NotableEventSignalForm,
    "marketing": MarketingSignalForm,
    "usage": UsageSignalForm,
}
OWNER_ONLY_SIGNALS = frozenset({"usage"})
