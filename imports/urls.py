"""CSV import pages (admins). The id kwarg is ``import_id`` (an ``ImportJob``), known to the
cross-tenant probe."""

from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.import_list, name="list"),
    path("<int:import_id>/", views.import_detail, name="detail"),
    path("<int:import_id>/columns/", views.import_mapping, name="mapping"),
    path("<int:import_id>/progress/", views.import_progress, name="progress"),
    path("<int:import_id>/apply/", views.import_apply, name="apply"),
    path("<int:import_id>/errors.csv", views.import_errors, name="errors"),
]
