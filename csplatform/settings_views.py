from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from .models import Role
from .tenancy import role_required


@role_required(Role.ADMIN)
def settings_home(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "settings/home.html", {})
