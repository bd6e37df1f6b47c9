from __future__ import annotations

from django import forms

from csplatform.forms import BootstrapFormMixin

from . import specs
from .models import ImportJob, ImportKind
from .services import MAX_UPLOAD_BYTES

SKIP = ""


class ImportUploadForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(label="The file holds", choices=ImportKind.choices)
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8 (Excel: “CSV UTF-8”), a header line naming the columns, dates as YYYY-MM-DD; "
        f"up to {MAX_UPLOAD_BYTES // 1024 // 1024} MB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is "
                f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB. Split it into smaller files."
            )
        return upload


class ImportMappingForm(BootstrapFormMixin, forms.Form):
    """One choice per column of the file: the field it fills, or skip."""

    def __init__(self, *args, job: ImportJob, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        self.columns = specs.SPECS[job.kind]
        choices = [(SKIP, "— skip this column —")] + [
            (column.field, f"{column.label} (required)" if column.required else column.label) for column in self.columns
        ]
        for index, header in enumerate(job.headers):
            name = f"column_{index}"
            self.fields[name] = forms.ChoiceField(label=header, choices=choices, required=False)
            self.initial.setdefault(name, job.mapping.get(str(index), SKIP))
            self.fields[name].widget.attrs["class"] = "form-select form-select-sm"

    def clean(self):
        cleaned = super().clean()
        mapping: dict[str, str] = {}
        used: dict[str, str] = {}
        for index, header in enumerate(self.job.headers):
            field = cleaned.get(f"column_{index}") or SKIP
            if field == SKIP:
                continue
            if field in used:
                label = specs.columns_of(self.job.kind)[field].label
                self.add_error(f"column_{index}", f"“{used[field]}” already fills {label}.")
                continue
            used[field] = header
            mapping[str(index)] = field
        missing = specs.missing_required(self.job.kind, mapping)
        if missing:
            raise forms.ValidationError(
                f"Choose a column for each required field; missing: {', '.join(missing)}.", code="missing"
            )
        self.mapping = mapping
        return cleaned

    def rows(self, samples: list[list[str]]):
        """(header, bound field, first values) for the template."""
        return [
            (header, self[f"column_{index}"], samples[index] if index < len(samples) else [])
            for index, header in enumerate(self.job.headers)
        ]
