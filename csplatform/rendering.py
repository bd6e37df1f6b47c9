"""One URL per page; an htmx request (not a boosted one) gets only the named partial of the
same template, so the full page and the swap can never drift apart."""

from django.http import HttpRequest
from django.template.response import TemplateResponse


def htmx_partial(request: HttpRequest) -> bool:
    """A fragment is wanted for a plain htmx request; a boosted one and a history-restore
    (back button on a page htmx no longer caches) need the whole page."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page(
    request: HttpRequest, template: str, context: dict, *, partial: str | None = None, status: int = 200
) -> TemplateResponse:
    """Render ``template``, or ``template#partial`` for an htmx request. Responses vary on
    HX-Request so a cache never serves a fragment as a page."""
    name = f"{template}#{partial}" if partial and htmx_partial(request) else template
    response = TemplateResponse(request, name, context, status=status)
    response["Vary"] = "HX-Request"
    return response
