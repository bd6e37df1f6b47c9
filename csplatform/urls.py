from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signin/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("signout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("switch-tenant/", views.tenant_switch, name="tenant_switch"),
    path("settings/imports/", include("imports.urls")),
    path("settings/api-keys/", include("api.settings_urls")),
    path("settings/", include("csplatform.settings_urls")),
    path("accounts/", include("accounts.urls")),
    path("health/", include("health.urls")),
    path("renewals/", include("renewals.urls")),
    path("success/", include("successplans.urls")),
    path("", include("playbooks.urls")),  # /tasks/ and /playbooks/
    path("api/v1/", include("api.urls")),
    path("platform-admin/", admin.site.urls),
]

handler403 = "csplatform.views.permission_denied"
