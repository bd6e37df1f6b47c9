"""Segments as tenant admins edit them: the form with the band rules, the writes (which
re-assign accounts by ARR), and the reads the segments page shows."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.db import transaction
from django.db.models import Count, DecimalField, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from csplatform.forms import BootstrapFormMixin
from csplatform.models import Tenant
from csplatform.templatetags.csp import money

from .models import Account, Segment, TouchModel
from .services import segments_assign


@dataclass(frozen=True)
class ArrBand:
    """ARR from ``arr_min`` (inclusive) up to ``arr_max`` (exclusive; None = no ceiling)."""

    arr_min: Decimal
    arr_max: Decimal | None

    def overlaps(self, other: ArrBand) -> bool:
        below_other_top = other.arr_max is None or self.arr_min < other.arr_max
        above_other_bottom = self.arr_max is None or other.arr_min < self.arr_max
        return below_other_top and above_other_bottom

    def describe(self, currency: str) -> str:
        if self.arr_max is None:
            return f"{money(self.arr_min, currency)} and up"
        return f"{money(self.arr_min, currency)} to below {money(self.arr_max, currency)}"


def segment_band_gaps(segments: list[Segment]) -> list[ArrBand]:
    """The ARR ranges (from 0 up) that no segment covers; accounts there get no segment.
    Assumes the bands do not overlap (``SegmentForm`` sees to that)."""
    gaps = []
    covered_to: Decimal | None = Decimal("0")
    for segment in sorted(segments, key=lambda s: s.arr_min):
        if covered_to is None:
            break
        if segment.arr_min > covered_to:
            gaps.append(ArrBand(covered_to, segment.arr_min))
        if segment.arr_max is None or segment.arr_max > covered_to:
            covered_to = segment.arr_max
    if covered_to is not None:
        gaps.append(ArrBand(covered_to, None))
    return gaps


def segments_with_book(*, tenant: Tenant) -> QuerySet[Segment]:
    """The tenant's segments, each with ``account_count`` and ``arr_total`` (one query)."""
    return (
        Segment.objects.filter(tenant=tenant)
        .annotate(
            account_count=Count("accounts"),
            arr_total=Coalesce(Sum("accounts__arr"), Value(Decimal("0")), output_field=DecimalField()),
        )
        .order_by("-arr_min")
    )


def accounts_without_segment(*, tenant: Tenant) -> dict:
    """How many accounts (and how much ARR) no segment holds: ``{"count": …, "arr": …}``."""
    return Account.objects.filter(tenant=tenant, segment__isnull=True).aggregate(
        count=Count("pk"), arr=Coalesce(Sum("arr"), Value(Decimal("0")), output_field=DecimalField())
    )


class SegmentForm(BootstrapFormMixin, forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "touch_model", "arr_min", "arr_max", "csm_capacity_min", "csm_capacity_max"]
        labels = {"touch_model": "Touch model"}
        help_texts = {
            "arr_min": "Accounts with at least this ARR.",
            "arr_max": "Accounts below this ARR. Empty means no ceiling.",
            "csm_capacity_min": "Accounts a CSM carries in this segment (high and low touch only).",
        }

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.instance.tenant = tenant
        for name in ("arr_min", "arr_max"):
            self.fields[name].widget.attrs.update({"min": 0, "step": "any", "inputmode": "decimal"})
            value = self.initial.get(name)
            if isinstance(value, Decimal) and value == value.to_integral_value():
                self.initial[name] = value.to_integral_value()  # 500000, not 500000.00
        for name in ("csm_capacity_min", "csm_capacity_max"):
            self.fields[name].widget.attrs.update({"min": 0, "inputmode": "numeric"})

    def other_segments(self) -> QuerySet[Segment]:
        return Segment.objects.filter(tenant=self.tenant).exclude(pk=self.instance.pk)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if self.other_segments().filter(name__iexact=name).exists():
            raise forms.ValidationError(f"There is already a segment called “{name}”.")
        return name

    def clean(self) -> dict:
        data = super().clean()
        arr_min, arr_max = data.get("arr_min"), data.get("arr_max")
        if arr_min is not None and arr_max is not None and arr_max <= arr_min:
            self.add_error("arr_max", f"Must be above “ARR from” ({money(arr_min, self.tenant.currency)}).")
        self._clean_capacity(data)
        if arr_min is not None and not self.has_error("arr_max"):
            self._clean_overlap(ArrBand(arr_min, arr_max))
        return data

    def _clean_capacity(self, data: dict) -> None:
        low, high = data.get("csm_capacity_min"), data.get("csm_capacity_max")
        if data.get("touch_model") == TouchModel.TECH:
            for name in ("csm_capacity_min", "csm_capacity_max"):
                if data.get(name) is not None:
                    self.add_error(name, "Tech touch is automation only: leave the CSM capacity empty.")
            return
        if data.get("touch_model") and (low is None or high is None):
            for name, value in (("csm_capacity_min", low), ("csm_capacity_max", high)):
                if value is None:
                    self.add_error(name, "High and low touch segments need a CSM capacity range.")
            return
        if low is not None and high is not None and low > high:
            self.add_error("csm_capacity_max", f"Must be at least the lower end ({low}).")

    def _clean_overlap(self, band: ArrBand) -> None:
        currency = self.tenant.currency
        for other in self.other_segments().order_by("arr_min"):
            other_band = ArrBand(other.arr_min, other.arr_max)
            if band.overlaps(other_band):
                # Blame the end of our band that reaches into theirs.
                field = "arr_min" if other.contains_arr(band.arr_min) else "arr_max"
                self.add_error(field, f"Overlaps “{other.name}” ({other_band.describe(currency)}).")
                return


class SegmentHasPinnedAccountsError(Exception):
    def __init__(self, message: str, *, account_count: int) -> None:
        super().__init__(message)
        self.account_count = account_count


def segment_save(*, tenant: Tenant, form: SegmentForm) -> Segment:
    """Save a valid ``SegmentForm`` for ``tenant``, then re-assign every unpinned account
    to the segment whose band holds its ARR."""
    with transaction.atomic():
        segment = form.save(commit=False)
        segment.tenant = tenant
        segment.save()
        segments_assign(tenant=tenant)
    return segment


def segment_delete(*, segment: Segment) -> None:
    """Delete the segment and re-assign its accounts by ARR. Refused
    (``SegmentHasPinnedAccountsError``) while accounts are pinned to it: someone chose
    that segment for them on purpose, so an admin must move them first."""
    tenant = segment.tenant
    with transaction.atomic():
        accounts = Account.objects.filter(tenant=tenant, segment=segment)
        pinned = accounts.filter(segment_pinned=True).count()
        if pinned:
            raise SegmentHasPinnedAccountsError(
                f"“{segment.name}” has {pinned} pinned account{'s' if pinned != 1 else ''}: move or unpin "
                f"{'them' if pinned != 1 else 'it'} before deleting the segment.",
                account_count=pinned,
            )
        # The foreign key protects the segment; let go of it, then band the accounts afresh.
        accounts.update(segment=None)
        segment.delete()
        segments_assign(tenant=tenant)
