from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from csplatform.tenancy import get_for_tenant_or_404, member_required

from .models import Account


@member_required
def my_book(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "accounts/portfolio.html", {"accounts": []})


@member_required
def all_accounts(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "accounts/portfolio.html", {"accounts": []})


@member_required
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_for_tenant_or_404(Account.objects.all(), request, pk=account_id)
    return TemplateResponse(request, "accounts/detail.html", {"account": account})
