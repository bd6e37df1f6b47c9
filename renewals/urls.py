from django.urls import path

from . import views

app_name = "renewals"

urlpatterns = [
    path("", views.pipeline, name="pipeline"),
    path("<int:renewal_id>/forecast/", views.renewal_forecast, name="forecast"),
    path("<int:renewal_id>/close/", views.renewal_close, name="close"),
    path("retention/", views.dashboard, name="dashboard"),
    path("retention/accounts/", views.dashboard_drill, name="drill"),
    path("retention/reasons/", views.reason_drill, name="reason_drill"),
    path("forecast/", views.forecast, name="forecast"),
    path("ledger/<int:account_id>/", views.account_ledger, name="account_ledger"),
    path("accounts/<int:account_id>/expansion/", views.expansion_list, name="expansion_list"),
    path("expansion/<int:expansion_opportunity_id>/edit/", views.expansion_edit, name="expansion_edit"),
    path("retention/questions/", views.leader_questions, name="questions"),
    path("retention/questions/discounts/", views.discount_drill, name="discounts"),
    path("csm-load/", views.csm_load, name="csm_load"),
    path("churn-reasons/", views.churn_reasons, name="churn_reasons"),
    path("churn-reasons/<int:churn_reason_id>/edit/", views.churn_reason_edit, name="churn_reason_edit"),
    path("churn-reasons/<int:churn_reason_id>/retire/", views.churn_reason_retire, name="churn_reason_retire"),
    path("churn-reasons/<int:churn_reason_id>/delete/", views.churn_reason_delete, name="churn_reason_delete"),
]
