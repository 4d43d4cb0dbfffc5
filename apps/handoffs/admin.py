"""Admin for handoffs: staff read everything here, nothing is edited by hand.

A handoff changes only through its services (the clocks and the timeline must move with
its status), so the admin is read-only: no add, no change form, no delete. What staff may
need to do is an admin action that calls the same service as the pages and the API.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.timesince import timesince

from apps.core.exceptions import Conflict

from . import services
from .models import Clock, Handoff, HandoffEvent, SweepRun

ADMIN_CANCEL_REASON = "Cancelled by an administrator"


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, Conflict):
        return exc.message
    return str(exc) or "You may not do that."


class ReadOnlyAdminMixin:
    """Viewing only: rows are written by the services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ClockInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Clock
    extra = 0
    fields = [
        "metric",
        "status",
        "target_seconds",
        "consumed_seconds",
        "paused_seconds",
        "around_the_clock",
        "started_at",
        "due_at",
        "warning_at",
        "breach_at",
        "next_step_at",
        "fired_percent",
        "met_at",
        "breached_at",
        "stopped_at",
    ]
    readonly_fields = fields


class HandoffEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = HandoffEvent
    verbose_name = "timeline event"
    verbose_name_plural = "timeline"
    extra = 0
    fields = ["created_at", "kind", "actor", "comment", "before", "after"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Handoff)
class HandoffAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "title",
        "priority",
        "status",
        "provider_team",
        "requesting_team",
        "assignee",
        "due_at",
    ]
    list_display_links = ["id", "title"]
    list_filter = ["status", "priority", "provider_team", "customer_segment"]
    # `id__exact` compares the id as text: any search term is safe, "12" finds #12.
    search_fields = ["title", "id__exact"]
    list_select_related = ["provider_team", "requesting_team", "assignee"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    actions = ["cancel_selected"]
    inlines = [ClockInline, HandoffEventInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "title",
                    "description",
                    "agreement",
                    ("requesting_team", "provider_team"),
                    ("priority", "status"),
                    ("customer_segment", "impacted_customers"),
                    "triage",
                ]
            },
        ),
        (
            "People",
            {"fields": ["created_by", "assignee"]},
        ),
        (
            "Dates",
            {
                "fields": [
                    ("created_at", "updated_at"),
                    "due_at",
                    "acknowledged_at",
                    "waiting_since",
                    "resolved_at",
                    "closed_at",
                    "reopen_count",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        return flatten_fieldsets(self.fieldsets)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "agreement", "provider_team", "requesting_team", "assignee", "created_by"
            )
        )

    def has_cancel_permission(self, request):
        # Cancelling is a change, so it needs the model's change permission even though
        # the change form itself stays read-only.
        return request.user.has_perm("handoffs.change_handoff")

    @admin.action(
        description="Cancel selected handoffs (reason: “Cancelled by an administrator”)",
        permissions=["cancel"],
    )
    def cancel_selected(self, request, queryset):
        done, refused = 0, []
        for handoff in queryset.order_by("pk"):
            try:
                services.handoff_cancel(
                    handoff=handoff, actor=request.user, reason=ADMIN_CANCEL_REASON
                )
            except (ValidationError, PermissionDenied, Conflict) as exc:
                refused.append(f"#{handoff.pk}: {_error_text(exc)}")
            else:
                done += 1
        if done:
            self.message_user(request, f"Cancelled {done} handoff(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not cancelled — " + " ".join(refused), messages.WARNING)


@admin.register(HandoffEvent)
class HandoffEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "handoff", "kind", "actor", "short_comment"]
    list_filter = ["kind"]
    search_fields = ["handoff__id__exact", "comment"]
    list_select_related = ["handoff", "actor"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    fields = ["handoff", "kind", "actor", "created_at", "comment", "before", "after"]
    readonly_fields = fields

    @admin.display(description="comment")
    def short_comment(self, event: HandoffEvent) -> str:
        return event.comment if len(event.comment) <= 80 else event.comment[:79] + "…"


@admin.register(SweepRun)
class SweepRunAdmin(admin.ModelAdmin):
    """The clock sweep's heartbeat: the newest row says when beat last ran the sweep."""

    list_display = (
        "started_at",
        "age",
        "duration_ms",
        "clocks",
        "warnings",
        "breaches",
        "escalations",
        "raised",
        "failed",
    )
    date_hierarchy = "started_at"
    # A clock the sweep could not process is skipped and retried with backoff; its
    # error is kept here for staff (the detail page of the run).
    readonly_fields = ("errors",)

    @admin.display(description="ago")
    def age(self, obj):
        return timesince(obj.started_at)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        latest = SweepRun.objects.order_by("-started_at").first()
        if latest is None:
            messages.warning(request, "No clock sweep has run yet: is Celery beat running?")
        elif latest.failed:
            messages.warning(
                request,
                f"The last sweep skipped {latest.failed} handoff(s) it could not process; "
                "open the run for the errors (they are retried with backoff).",
            )
        if latest is not None and (timezone.now() - latest.started_at).total_seconds() > 180:
            messages.error(
                request,
                f"The last clock sweep ran at {timezone.localtime(latest.started_at):%H:%M:%S}: "
                "beat or the workers look stalled.",
            )
        return super().changelist_view(request, extra_context)
