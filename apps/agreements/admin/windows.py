"""Admin for exception windows: their decisions are admin actions through the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from apps.core.exceptions import Conflict

from .. import services
from ..models import ExceptionWindow
from .versions import error_text


@admin.register(ExceptionWindow)
class ExceptionWindowAdmin(admin.ModelAdmin):
    """Windows are requested on the page or the API; here staff read them, decide and end
    them early, through the same services."""

    list_display = (
        "provider_team",
        "series",
        "start",
        "end",
        "status",
        "requested_by",
        "decided_by",
        "ended_by",
    )
    fields = (
        "provider_team",
        "series",
        "start",
        "end",
        "planned_end",
        "reason",
        "affected_customers",
        "communication_plan",
        "status",
        "requested_by",
        "decided_by",
        "decided_at",
        "decision_note",
        "ended_by",
        "ended_at",
        "end_note",
    )
    list_filter = ("status", "provider_team")
    search_fields = ("reason", "affected_customers", "provider_team__name")
    list_select_related = (
        "provider_team",
        "series__provider_team",
        "series__requesting_team",
        "requested_by",
        "decided_by",
        "ended_by",
    )
    date_hierarchy = "start"
    actions = ["approve_windows", "reject_windows", "end_windows"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _each(self, request, queryset, done: str, service, note: str) -> None:
        succeeded = 0
        for window in queryset:
            try:
                service(window=window, actor=request.user, note=note)
            except (ValidationError, PermissionDenied, Conflict) as exc:
                self.message_user(request, f"{window}: {error_text(exc)}", messages.ERROR)
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, f"{succeeded} window(s) {done}.", messages.SUCCESS)

    @admin.action(description="Approve the selected windows")
    def approve_windows(self, request, queryset):
        self._each(
            request,
            queryset,
            "approved",
            services.exception_window_approve,
            note="Decided in the admin.",
        )

    @admin.action(description="Reject the selected windows")
    def reject_windows(self, request, queryset):
        self._each(
            request,
            queryset,
            "rejected",
            services.exception_window_reject,
            note="Decided in the admin.",
        )

    @admin.action(description="End the selected windows now (cancel those not started)")
    def end_windows(self, request, queryset):
        self._each(
            request,
            queryset,
            "ended or cancelled",
            services.exception_window_end,
            note="Ended in the admin.",
        )
