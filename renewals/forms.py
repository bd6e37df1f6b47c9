from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.validators import MinValueValidator

from accounts.models import Segment
from accounts.portfolio import RENEWAL_WINDOW_CHOICES
from csplatform.forms import BootstrapFormMixin
from csplatform.models import Tenant, User

from .models import (
    ChurnReason,
    ChurnReasonQuerySet,
    ExpansionOpportunity,
    ForecastCategory,
    Product,
    RenewalOutcome,
    RetentionSettings,
)

MONEY_FIELD = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal("0")}


class PipelineFilterForm(forms.Form):
    """Every field optional; a bad value is dropped with its error shown, the page still renders."""

    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="Anyone")
    segment = forms.ModelChoiceField(queryset=Segment.objects.none(), required=False, empty_label="Any segment")
    window = forms.ChoiceField(
        label="Renewal window", required=False, choices=[("", "Next 12 months"), *RENEWAL_WINDOW_CHOICES]
    )
    forecast = forms.ChoiceField(required=False, choices=[("", "Any forecast"), *ForecastCategory.choices])

    def __init__(self, *args, tenant: Tenant, with_owner: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = Segment.objects.filter(tenant=tenant).order_by("-arr_min")
        if with_owner:
            self.fields["owner"].queryset = User.objects.filter(memberships__tenant=tenant).order_by(
                "full_name", "email"
            )
        else:
            del self.fields["owner"]
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select"

    def valid_filters(self) -> dict:
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}


class ForecastForm(BootstrapFormMixin, forms.Form):
    forecast_category = forms.ChoiceField(label="Forecast", choices=ForecastCategory.choices)
    forecast_arr = forms.DecimalField(label="Forecast ARR", **MONEY_FIELD)


class RenewalCloseForm(BootstrapFormMixin, forms.Form):
    """The outcome and the next term's ARR per product (one field per product of the term up,
    ``arr_<product id>``, prefilled with today's ARR), an optional product added at renewal,
    and, for a churn or a contraction, why and what was lost."""

    outcome = forms.ChoiceField(choices=RenewalOutcome.choices, widget=forms.RadioSelect)
    add_product = forms.ModelChoiceField(
        label="Add a product at renewal", queryset=Product.objects.none(), required=False, empty_label="None"
    )
    add_product_arr = forms.DecimalField(label="Its ARR", required=False, **MONEY_FIELD)
    term_months = forms.IntegerField(label="Next term (months)", min_value=1, max_value=60, initial=12)
    churn_reason = forms.ModelChoiceField(
        label="Churn reason",
        queryset=ChurnReason.objects.none(),
        required=False,
        help_text="Needed for a churn or a contraction.",
    )
    reason_note = forms.CharField(
        label="Note on the reason", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    affected_products = forms.ModelMultipleChoiceField(
        label="Products lost or reduced",
        queryset=Product.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, tenant: Tenant, term_products: list[tuple[Product, Decimal]], **kwargs):
        super().__init__(*args, **kwargs)
        products = Product.objects.filter(tenant=tenant)
        self.term_products = term_products
        for product, arr in term_products:
            self.fields[f"arr_{product.pk}"] = forms.DecimalField(
                label=f"Next term ARR: {product.name}",
                initial=arr,
                help_text=f"Up for renewal: {arr:,.0f}. Enter 0 if it is not renewed.",
                widget=forms.NumberInput(attrs={"class": "form-control", "step": "0.01"}),
                **MONEY_FIELD,
            )
        self.fields["add_product"].queryset = products.exclude(pk__in=[product.pk for product, _ in term_products])
        reasons: ChurnReasonQuerySet = ChurnReason.objects.filter(tenant=tenant)
        self.fields["churn_reason"].queryset = reasons.in_use()
        self.fields["affected_products"].queryset = products.filter(pk__in=[product.pk for product, _ in term_products])
        order = ["outcome", *[f"arr_{product.pk}" for product, _ in term_products]]
        self.order_fields(order)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("add_product") and not cleaned.get("add_product_arr"):
            self.add_error("add_product_arr", "Enter the ARR of the product added.")
        return cleaned

    def new_lines(self) -> list:
        from .services import NewLine

        lines = [NewLine(product, self.cleaned_data[f"arr_{product.pk}"]) for product, _ in self.term_products]
        if self.cleaned_data.get("add_product") and self.cleaned_data.get("add_product_arr"):
            lines.append(NewLine(self.cleaned_data["add_product"], self.cleaned_data["add_product_arr"]))
        return lines


PERIOD_CHOICES = [("ttm", "Trailing twelve months"), ("quarter", "This quarter"), ("month", "This month")]
SLICE_CHOICES = [("segment", "Segment"), ("owner", "CSM"), ("industry", "Industry"), ("product", "Product")]


class DashboardForm(forms.Form):
    period = forms.ChoiceField(choices=PERIOD_CHOICES, required=False)
    slice = forms.ChoiceField(label="Slice by", choices=SLICE_CHOICES, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select"

    def choice(self) -> tuple[str, str]:
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return data.get("period") or "ttm", data.get("slice") or "segment"


class ChurnReasonForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = ChurnReason
        fields = ["name", "category", "needs_note"]


class RetentionSettingsForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = RetentionSettings
        fields = ["nrr_target_percent"]


class ExpansionOpportunityForm(BootstrapFormMixin, forms.ModelForm):
    """An upsell or cross-sell: the product among the tenant's, the ARR it adds, its stage."""

    product = forms.ModelChoiceField(queryset=Product.objects.none())

    class Meta:
        model = ExpansionOpportunity
        fields = ["kind", "product", "arr", "stage", "expected_close"]
        widgets = {"expected_close": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(tenant=tenant)
        self.fields["arr"].min_value = Decimal("0.01")
        self.fields["arr"].validators.append(MinValueValidator(Decimal("0.01")))
