"""One error body for every API error:

``{"errors": [{"field": "name", "message": "This field is required.", "code": "required"}]}``

``field`` is the input field the message is about, dotted for nested input (``team.0``), or
null when it is about the request as a whole (401, 403, 404, 405, 429).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.views import exception_handler


def _flatten(detail, prefix: str | None = None) -> list[dict]:
    if isinstance(detail, dict):
        errors = []
        for key, value in detail.items():
            name = None if key in ("non_field_errors", "__all__") else key
            field = ".".join(part for part in (prefix, name) if part) or None
            errors.extend(_flatten(value, field))
        return errors
    if isinstance(detail, list):
        errors = []
        for position, value in enumerate(detail):
            if isinstance(value, dict | list):
                errors.extend(_flatten(value, f"{prefix}.{position}" if prefix else str(position)))
            else:
                errors.extend(_flatten(value, prefix))
        return errors
    return [{"field": prefix, "message": str(detail), "code": getattr(detail, "code", "invalid")}]


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        # A service's ValidationError keyed by field (or not): a 400 naming the field.
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        errors = [{"field": None, "message": str(detail), "code": getattr(detail, "code", "error")}]
    response.data = {"errors": errors}
    return response


class ErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="The input field, dotted when nested; null: the request.")
    message = serializers.CharField()
    code = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    errors = ErrorItemSerializer(many=True)
