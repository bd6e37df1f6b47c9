"""Tasks (``/tasks/``) and the admin's triggers and playbooks (``/playbooks/``). Id kwargs are
named after their model so the cross-tenant probe substitutes another tenant's ids."""

from django.urls import path

from . import views

app_name = "playbooks"

urlpatterns = [
    path("tasks/", views.inbox, name="inbox"),
    path("tasks/<int:task_id>/", views.task_row, name="task_row"),
    path("tasks/<int:task_id>/complete/", views.task_complete, name="task_complete"),
    path("tasks/<int:task_id>/snooze/", views.task_snooze, name="task_snooze"),
    path("tasks/<int:task_id>/reassign/", views.task_reassign, name="task_reassign"),
    path("tasks/team/", views.team_queue, name="team_queue"),
    path("tasks/team/overdue/", views.overdue_by_csm, name="overdue"),
    path("playbooks/effectiveness/", views.effectiveness, name="effectiveness"),
    path("playbooks/", views.setup, name="setup"),
    path("playbooks/triggers/new/", views.trigger_create, name="trigger_create"),
    path("playbooks/triggers/<int:trigger_id>/", views.trigger_detail, name="trigger_detail"),
    path("playbooks/triggers/<int:trigger_id>/edit/", views.trigger_edit, name="trigger_edit"),
    path("playbooks/triggers/<int:trigger_id>/enabled/", views.trigger_toggle, name="trigger_toggle"),
    path("playbooks/defaults/", views.defaults_add, name="defaults_add"),
    path("playbooks/new/", views.playbook_create, name="playbook_create"),
    path("playbooks/<int:playbook_id>/", views.playbook_edit, name="playbook_edit"),
    path("playbooks/<int:playbook_id>/steps/new/", views.step_create, name="step_create"),
    path("playbooks/<int:playbook_id>/steps/<int:step_id>/", views.step_edit, name="step_edit"),
    path("playbooks/<int:playbook_id>/steps/<int:step_id>/delete/", views.step_delete, name="step_delete"),
    path("playbooks/<int:playbook_id>/steps/<int:step_id>/move/", views.step_move, name="step_move"),
]
