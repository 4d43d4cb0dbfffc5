from django.contrib import admin, messages
from django.utils import timezone

from . import delivery
from .models import Notification, NotificationPreference, Status


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only: rows are written by services. Failed deliveries are found with the
    status filter (with their error and next attempt; none when out of attempts) and sent
    again with the retry action."""

    list_display = (
        "created_at",
        "kind",
        "channel",
        "recipient",
        "team",
        "title",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "read_at",
        "short_error",
    )
    list_filter = ("status", "channel", "kind")
    search_fields = ("title", "dedup_key", "recipient__username", "team__name", "last_error")
    list_select_related = ("recipient", "team")
    date_hierarchy = "created_at"
    actions = ["retry_delivery"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # A notification is history: what was said to whom, and whether it arrived.
        return False

    @admin.display(description="Last error")
    def short_error(self, obj: Notification) -> str:
        return obj.last_error[:80]

    @admin.action(description="Retry delivery of the selected failed notifications")
    def retry_delivery(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        retried = delivery.notifications_retry(notification_ids=ids, now=timezone.now())
        skipped = len(ids) - retried
        if retried:
            self.message_user(
                request, f"{retried} notification(s) queued for delivery again.", messages.SUCCESS
            )
        if skipped:
            self.message_user(
                request,
                f"{skipped} notification(s) skipped: only failed emails and webhooks are "
                f"retried (status “{Status.FAILED.label}”).",
                messages.WARNING,
            )


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "channel", "enabled")
    list_filter = ("kind", "channel", "enabled")
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)
    autocomplete_fields = ["user"]
