"""Operators' views of rules, blocks and runs. Blocks and runs are records the engine keeps: they
cannot be added or changed here (runs go with their rule when it is deleted).

Rules are changed and deleted through the services, so the admin queues the same syncs and
clean-ups the pages do; their owner and calendars are fixed here (the owner's pages change them).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from syncrules import services
from syncrules.models import Block, SyncRule, SyncRun


class RecordAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyAdmin(RecordAdmin):
    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SyncRule)
class SyncRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "enabled", "visibility", "created_at"]
    list_filter = ["enabled", "visibility"]
    search_fields = ["name", "user__email"]
    readonly_fields = ["id", "user", "sources", "targets", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: SyncRule, form: object, change: bool) -> None:
        services.rule_update(
            rule=obj,
            settings=services.RuleSettings.of(obj),
            sources=list(obj.sources.all()),
            targets=list(obj.targets.all()),
        )

    def delete_model(self, request: HttpRequest, obj: SyncRule) -> None:
        services.rule_delete(rule=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SyncRule]) -> None:
        for rule in queryset:
            services.rule_delete(rule=rule)


@admin.register(Block)
class BlockAdmin(ReadOnlyAdmin):
    list_display = ["id", "rule", "source_calendar", "target_calendar", "state", "start", "end"]
    list_filter = ["state", "all_day"]
    list_select_related = ["rule", "source_calendar", "target_calendar"]


@admin.register(SyncRun)
class SyncRunAdmin(RecordAdmin):
    list_display = [
        "rule",
        "source_calendar",
        "started_at",
        "full_read",
        "created",
        "updated",
        "deleted",
        "skipped",
        "error",
    ]
    list_filter = ["full_read"]
    list_select_related = ["rule", "source_calendar"]
    date_hierarchy = "started_at"
