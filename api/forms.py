from django import forms

from csplatform.forms import BootstrapFormMixin

from .models import ApiKey


class ApiKeyForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "access"]
        help_texts = {"access": "A read-only key can list and read; only a read-and-write key can change data."}
