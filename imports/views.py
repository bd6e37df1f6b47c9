"""CSV import pages for admins: upload, map the columns, preview the errors, apply, follow
the progress. Thin: forms validate, ``imports.services`` acts, the task does the work."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from csplatform.exports import csv_stream_response
from csplatform.models import Role
from csplatform.rendering import render_page
from csplatform.tenancy import get_for_tenant_or_404, role_required

from . import services, specs
from .forms import ImportMappingForm, ImportUploadForm
from .models import ImportJob, ImportKind

NAV = "settings"
DETAIL = "imports/detail.html"
# Shown on the page; the whole list is in the downloadable report.
ERRORS_SHOWN = 200


def _job(request: HttpRequest, import_id: int) -> ImportJob:
    # The file itself stays in the database: the pages (polled every second) never need it.
    return get_for_tenant_or_404(ImportJob.objects.defer("content"), request, pk=import_id)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def import_list(request: HttpRequest) -> HttpResponse:
    """Upload a CSV (accounts, contacts, subscription lines or usage days); recent imports."""
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                job = services.import_job_create(
                    tenant=request.tenant,
                    user=request.user,
                    kind=form.cleaned_data["kind"],
                    file_name=upload.name,
                    content=upload.read(),
                )
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    for message in errors:
                        form.add_error(field if field in form.fields else None, message)
            else:
                return redirect("imports:mapping", import_id=job.pk)
        status = 422
    jobs = ImportJob.objects.filter(tenant=request.tenant).select_related("created_by").defer("content")[:20]
    return render_page(request, "imports/list.html", {"nav": NAV, "form": form, "jobs": jobs}, status=status)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def import_mapping(request: HttpRequest, import_id: int) -> HttpResponse:
    """Which column fills which field, detected from the header names; saving starts the check."""
    job = _job(request, import_id)
    if job.in_progress:
        return redirect("imports:detail", import_id=job.pk)
    form = ImportMappingForm(request.POST or None, job=job)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.import_job_map(job=job, mapping=form.mapping)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                return redirect("imports:detail", import_id=job.pk)
        status = 422
    rows = form.rows(services.import_job_samples(job=job))
    context = {"nav": NAV, "job": job, "form": form, "rows": rows, "columns": specs.SPECS[job.kind]}
    return render_page(request, "imports/mapping.html", context, status=status)


def _detail_context(job: ImportJob) -> dict:
    return {
        "nav": NAV,
        "job": job,
        "errors_shown": job.errors[:ERRORS_SHOWN],
        "preview_header": ["Row", "Action", *_preview_labels(job)],
    }


def _preview_labels(job: ImportJob) -> list[str]:
    mapped = set(job.mapping.values())
    labels = [column.label for column in specs.SPECS[job.kind] if column.field in mapped]
    if "segment" in mapped:
        labels.append("Segment pinned")
    if job.kind == ImportKind.SURVEY_RESPONSES and "kind" not in mapped:
        labels.append("Survey")  # the file's kind, written on every row
    return labels


@role_required(Role.ADMIN)
@require_GET
def import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    """The job's state: progress while it runs, then the preview (errors, or the rows it
    will write and an Import button), then the outcome."""
    job = _job(request, import_id)
    return render_page(request, DETAIL, _detail_context(job), partial="status")


@role_required(Role.ADMIN)
@require_GET
def import_progress(request: HttpRequest, import_id: int) -> HttpResponse:
    """The status block alone, polled every second by the page while the job runs."""
    job = _job(request, import_id)
    response = render_page(request, f"{DETAIL}#status", _detail_context(job))
    response["Cache-Control"] = "no-store"
    return response


@role_required(Role.ADMIN)
@require_POST
def import_apply(request: HttpRequest, import_id: int) -> HttpResponse:
    job = _job(request, import_id)
    if not services.import_job_apply_request(job=job):
        messages.warning(request, "This import is not ready to apply (already applied, running, or has errors).")
    return redirect("imports:detail", import_id=job.pk)


@role_required(Role.ADMIN)
@require_GET
def import_errors(request: HttpRequest, import_id: int) -> HttpResponse:
    """The error report: one line per problem (row, column, value, reason)."""
    job = _job(request, import_id)
    return csv_stream_response(
        tenant=request.tenant,
        name=f"import-{job.pk}-errors",
        header=["Row", "Column", "Value", "Reason"],
        rows=services.error_report_rows(job),
    )
