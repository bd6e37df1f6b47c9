"""One URL per page; an htmx request (not a boosted one) gets only the named partial of the
same template, so the full page and the swap can never drift apart."""

from collections.abc import Callable

from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse

_ID_MARKER = "987654321987654321"


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


def url_for_each(viewname: str, id_kwarg: str, **kwargs) -> Callable[[int], str]:
    """``reverse(viewname, kwargs={**kwargs, id_kwarg: pk})`` for each row of a list at the cost
    of one ``reverse``: ``{% url %}`` in a loop resolves the pattern again for every row, which
    was a visible share of a page of 50 accounts."""
    head, tail = reverse(viewname, kwargs={**kwargs, id_kwarg: int(_ID_MARKER)}).split(_ID_MARKER)
    return lambda pk: f"{head}{int(pk)}{tail}"
