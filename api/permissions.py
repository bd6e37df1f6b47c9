from rest_framework import permissions

from .models import ApiKey


class HasApiKey(permissions.BasePermission):
    """A live key is required (401 without one, DRF answers that since no authenticator
    succeeded); a read-only key may only read (403)."""

    message = "This API key is read-only: ask an admin for a key with read and write access."

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            return False
        return request.method in permissions.SAFE_METHODS or request.auth.can_write
