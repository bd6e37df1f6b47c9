"""Forms of the tenant settings pages, and the Bootstrap styling every app's forms share."""

from __future__ import annotations

from django import forms
from django.forms.utils import flatatt
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from .models import Membership, Role, Tenant, User


class FastSelectMixin:
    """Writes its options directly instead of rendering a template per option. A large team (a
    tenant of 100,000 accounts has well over a thousand CSMs) made owner and people pickers the
    slowest part of their pages: about 0.15 ms an option the usual way."""

    def render(self, name, value, attrs=None, renderer=None):
        final_attrs = self.build_attrs(self.attrs, attrs)
        if self.allow_multiple_selected:
            final_attrs["multiple"] = True
        selected = {str(item) for item in self.format_value(value)}
        options = "".join(
            f'<option value="{escape(option_value)}"{" selected" if str(option_value) in selected else ""}>'
            f"{escape(label)}</option>"
            for option_value, label in self.choices
        )
        return format_html('<select name="{}"{}>{}</select>', name, flatatt(final_attrs), mark_safe(options))


class FastSelect(FastSelectMixin, forms.Select):
    pass


class FastSelectMultiple(FastSelectMixin, forms.SelectMultiple):
    pass


class BootstrapFormMixin:
    """Bootstrap classes on every widget, so ``includes/field.html`` renders any field without
    per-form markup. After validation an invalid field is marked ``is-invalid`` and the first
    one takes the focus (``autofocus``, which htmx honours on a swap); an unbound form
    focuses ``autofocus_field`` when it names one."""

    autofocus_field: str | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple | forms.RadioSelect):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()
        if not self.is_bound and self.autofocus_field:
            self.fields[self.autofocus_field].widget.attrs["autofocus"] = True

    def full_clean(self) -> None:
        super().full_clean()
        invalid = [name for name in self.fields if name in self.errors]
        for name in invalid:
            widget = self.fields[name].widget
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
        if invalid:
            self.fields[invalid[0]].widget.attrs["autofocus"] = True


class TenantDetailsForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name", "currency", "time_zone"]
        labels = {"name": "Company name", "time_zone": "Time zone"}
        help_texts = {
            "currency": "Three-letter ISO 4217 code, e.g. USD, EUR, GBP.",
            "time_zone": "Dates such as renewals and due days follow this zone.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        currency = self.fields["currency"].widget.attrs
        # No maxlength: a browser would cut "dollars" to "dol" silently; the server says why instead.
        currency.pop("maxlength", None)
        currency.update({"autocapitalize": "characters", "spellcheck": "false"})

    def clean_currency(self) -> str:
        # The model's validator then insists on exactly three letters A-Z.
        return self.cleaned_data["currency"].strip().upper()


class MemberInviteForm(BootstrapFormMixin, forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=254)
    full_name = forms.CharField(label="Full name", max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.CSM)

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["email"].widget.attrs["autocomplete"] = "off"

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if Membership.objects.filter(tenant=self.tenant, user__email__iexact=email).exists():
            raise forms.ValidationError(f"{email} is already a member of {self.tenant.name}.")
        return email


class MembershipRoleForm(BootstrapFormMixin, forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        return f"{obj.user} ({obj.get_role_display()})"


class MembershipRemoveForm(BootstrapFormMixin, forms.Form):
    """Whom to hand the leaving member's accounts to. Whether that is required is the
    service's rule (``membership_remove``); the view reports its refusal on this field."""

    reassign_to = MemberChoiceField(
        label="Reassign their accounts to",
        queryset=Membership.objects.none(),
        required=False,
        empty_label="Choose a member",
    )

    def __init__(self, *args, membership: Membership, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reassign_to"].queryset = (
            Membership.objects.filter(tenant_id=membership.tenant_id)
            .exclude(pk=membership.pk)
            .select_related("user")
            .order_by("user__full_name", "user__email")
        )
