from django.urls import path

from . import views

app_name = "successplans"

urlpatterns = [
    path("handoffs/", views.handoff_list, name="handoff_list"),
    path("handoffs/export.csv", views.handoff_list_export, name="handoff_list_export"),
    path("handoffs/new/", views.handoff_create, name="handoff_create"),
    path("handoffs/<int:handoff_id>/", views.handoff_detail, name="handoff_detail"),
    path("handoffs/<int:handoff_id>/edit/", views.handoff_edit, name="handoff_edit"),
    path("handoffs/<int:handoff_id>/submit/", views.handoff_submit, name="handoff_submit"),
    path("handoffs/<int:handoff_id>/accept/", views.handoff_accept, name="handoff_accept"),
    path("handoffs/<int:handoff_id>/send-back/", views.handoff_send_back, name="handoff_send_back"),
    path("handoffs/<int:handoff_id>/acknowledge/", views.handoff_flag_acknowledge, name="handoff_acknowledge"),
    path("accounts/<int:account_id>/plan/start/", views.plan_start, name="plan_start"),
    path("plans/<int:plan_id>/", views.plan_detail, name="plan_detail"),
    path("plans/<int:plan_id>/edit/", views.plan_edit, name="plan_edit"),
    path("plans/<int:plan_id>/customer/", views.plan_customer_view, name="plan_customer"),
    path("plans/<int:plan_id>/share/", views.plan_share, name="plan_share"),
    path("plans/<int:plan_id>/share/revoke/", views.plan_share_revoke, name="plan_share_revoke"),
    path("plans/<int:plan_id>/milestones/add/", views.milestone_add, name="milestone_add"),
    path("plans/<int:plan_id>/milestones/<int:milestone_id>/edit/", views.milestone_edit, name="milestone_edit"),
    path("plans/<int:plan_id>/milestones/<int:milestone_id>/status/", views.milestone_status, name="milestone_status"),
    path("plans/<int:plan_id>/measures/add/", views.measure_add, name="measure_add"),
    path("plans/<int:plan_id>/measures/<int:measure_id>/current/", views.measure_current, name="measure_current"),
    path("plans/<int:plan_id>/measures/<int:measure_id>/edit/", views.measure_edit, name="measure_edit"),
    path("plans/<int:plan_id>/reviews/new/", views.review_create, name="review_create"),
    path("plans/<int:plan_id>/reviews/<int:review_id>/", views.review_detail, name="review_detail"),
    path("journeys/", views.journey_list, name="journey_list"),
    path("journeys/new/", views.journey_create, name="journey_create"),
    path("journeys/<int:journey_id>/edit/", views.journey_edit, name="journey_edit"),
    path("journeys/<int:journey_id>/delete/", views.journey_delete, name="journey_delete"),
    path("insights/", views.insights, name="insights"),
    path("insights/<slug:table>.csv", views.insights_export, name="insights_export"),
    path("relationships/target/", views.relationship_target_edit, name="relationship_target"),
    path("shared/<str:token>/", views.plan_shared, name="plan_shared"),
]
