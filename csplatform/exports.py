"""Streamed CSV exports of what a page shows: formula-injection safe, UTF-8 with a byte order
mark so Excel reads accents, named after the tenant and the day.

A page's export hands over its header and an iterable of rows, usually
``queryset.values_list(…).iterator(chunk_size=…)``: rows are read in chunks of a plain cursor
(settings disable server-side cursors, so each chunk comes from the one result set the
database already sent) and written as they come, so a large export never builds the whole file
in memory and the first bytes leave at once.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

# A spreadsheet runs a cell starting with one of these as a formula (tab and carriage return
# because some programs strip them before looking).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
CHUNK_SIZE = 2_000


def csv_cell(value) -> object:
    """A spreadsheet must never run a cell as a formula: text starting with = + - @ (or a tab
    or carriage return) gets a leading apostrophe. Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose ``write`` returns the line, so ``csv.writer`` formats one row
    at a time for a generator."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable, rows: Iterable[Iterable]) -> Iterator[str]:
    """The CSV text line by line, BOM first, every cell neutralised."""
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow([csv_cell(cell) for cell in header])
    for row in rows:
        yield writer.writerow([csv_cell(cell) for cell in row])


def export_filename(tenant, name: str, today: dt.date | None = None) -> str:
    """``<tenant-slug>-<name>-<YYYY-MM-DD>.csv``: several tenants' downloads never mix up."""
    today = today or timezone.localdate()
    tenant_part = getattr(tenant, "slug", "") or slugify(getattr(tenant, "name", "")) or "export"
    return f"{tenant_part}-{slugify(name)}-{today.isoformat()}.csv"


def csv_stream_response(*, tenant, name: str, header: Iterable, rows: Iterable[Iterable]) -> StreamingHttpResponse:
    """A streamed CSV download of ``rows`` under ``header``. ``rows`` is consumed lazily, while
    the response is sent: pass an iterator (``.values_list(…).iterator(chunk_size=CHUNK_SIZE)``)
    rather than a list for large sets."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(tenant, name)}"'
    response["Cache-Control"] = "private, no-store"
    return response
