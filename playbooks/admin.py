from django.contrib import admin

from .models import AutomatedAction, Episode, Playbook, Task, TaskTemplate, Trigger


class TaskTemplateInline(admin.TabularInline):
    model = TaskTemplate
    extra = 0
    raw_id_fields = ["assignee_user"]


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "updated_at"]
    list_filter = ["tenant"]
    inlines = [TaskTemplateInline]


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "kind", "enabled", "playbook"]
    list_filter = ["tenant", "kind", "enabled"]
    raw_id_fields = ["playbook"]


@admin.register(Episode)
class EpisodeAdmin(admin.ModelAdmin):
    list_display = ["trigger", "tenant", "account", "opened_at", "cleared_at"]
    list_filter = ["tenant"]
    raw_id_fields = ["trigger", "account"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["title", "tenant", "account", "assignee", "due_on", "status"]
    list_filter = ["tenant", "status"]
    raw_id_fields = ["account", "episode", "template", "assignee", "completed_by", "activity"]


@admin.register(AutomatedAction)
class AutomatedActionAdmin(admin.ModelAdmin):
    list_display = ["subject", "tenant", "account", "recipient", "sent_at"]
    list_filter = ["tenant"]
    raw_id_fields = ["episode", "account", "template"]
