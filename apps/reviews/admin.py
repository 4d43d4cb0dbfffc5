"""Admin for reviews: staff read everything here, nothing is edited by hand.

A review, a breach review and an action item change only through their services, where
the teams' leads and members act (a review's sign-offs become an agreement version's
approvals; staff do not agree targets on the teams' behalf). So every model here is
read-only: no add, no change form, and never a delete (nothing with history is deleted).
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.utils.html import format_html

from .models import ActionItem, BreachReview, QuarterlyReview, ReviewSignOff


class ReadOnlyAdminMixin:
    """Viewing only: rows are written by the services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _pretty_json(value) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False))


class ReviewSignOffInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Sign-offs are given by leads on the page or the API, never typed in here."""

    model = ReviewSignOff
    extra = 0
    fields = ("team", "user", "signed_at", "comment")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("team", "user")


class ReviewActionItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ActionItem
    fk_name = "review"
    extra = 0
    fields = ("title", "owner", "due_date", "done_at")
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner")


@admin.register(QuarterlyReview)
class QuarterlyReviewAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "series",
        "period_start",
        "period_end",
        "due_date",
        "status",
        "agreement",
        "resulting_agreement",
        "completed_at",
    )
    list_display_links = ("id", "series")
    list_filter = (
        "status",
        "due_date",
        "series__provider_team",
        "series__requesting_team",
    )
    search_fields = (
        "agreement__title",
        "series__provider_team__name",
        "series__requesting_team__name",
        "findings",
        "decisions",
    )
    list_select_related = (
        "series__provider_team",
        "series__requesting_team",
        "agreement",
        "resulting_agreement",
    )
    date_hierarchy = "due_date"
    ordering = ("-due_date", "-pk")
    inlines = [ReviewSignOffInline, ReviewActionItemInline]
    fieldsets = (
        (None, {"fields": ("series", "agreement", ("period_start", "period_end"), "due_date")}),
        ("Progress", {"fields": ("status", ("started_at", "started_by"), "completed_at")}),
        ("Outcome", {"fields": ("findings", "decisions", "proposed", "resulting_agreement")}),
        ("Frozen when started", {"fields": ("frozen_pack", "frozen_recommendations")}),
        (
            "Reminders",
            {"fields": ("reminded_14_at", "reminded_3_at", "overdue_flagged_at")},
        ),
    )
    readonly_fields = (
        "series",
        "agreement",
        "period_start",
        "period_end",
        "due_date",
        "status",
        "started_at",
        "started_by",
        "completed_at",
        "findings",
        "decisions",
        "proposed",
        "resulting_agreement",
        "frozen_pack",
        "frozen_recommendations",
        "reminded_14_at",
        "reminded_3_at",
        "overdue_flagged_at",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "series__provider_team",
                "series__requesting_team",
                "agreement",
                "resulting_agreement",
                "started_by",
            )
        )

    @admin.display(description="proposed targets")
    def proposed(self, obj):
        return _pretty_json(obj.proposed_targets)

    @admin.display(description="compliance pack")
    def frozen_pack(self, obj):
        return _pretty_json(obj.pack)

    @admin.display(description="recommendations")
    def frozen_recommendations(self, obj):
        return _pretty_json(obj.recommendations)


class BreachActionItemInline(ReviewActionItemInline):
    fk_name = "breach_review"


@admin.register(BreachReview)
class BreachReviewAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("clock", "handoff", "provider_team", "root_cause", "reviewed_by", "created_at")
    list_filter = ("root_cause", "clock__metric", "clock__handoff__provider_team")
    search_fields = ("what_happened", "prevention", "clock__handoff__title")
    list_select_related = (
        "clock__handoff__provider_team",
        "reviewed_by",
    )
    date_hierarchy = "created_at"
    fields = (
        "clock",
        "handoff",
        "root_cause",
        "what_happened",
        "prevention",
        "reviewed_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [BreachActionItemInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("clock__handoff__provider_team", "reviewed_by")
        )

    @admin.display(ordering="clock__handoff_id")
    def handoff(self, obj):
        return obj.clock.handoff

    @admin.display(ordering="clock__handoff__provider_team__name")
    def provider_team(self, obj):
        return obj.clock.handoff.provider_team


@admin.register(ActionItem)
class ActionItemAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "owner", "due_date", "done_at", "review", "breach_review")
    list_filter = (
        ("done_at", admin.EmptyFieldListFilter),
        "due_date",
    )
    search_fields = ("title", "owner__username", "owner__first_name", "owner__last_name")
    list_select_related = (
        "owner",
        "review__agreement",
        "breach_review",
    )
    date_hierarchy = "due_date"
    fields = (
        "title",
        "owner",
        "due_date",
        "done_at",
        "review",
        "breach_review",
        "created_by",
        "created_at",
        "reminded_due_at",
        "reminded_overdue_at",
    )
    readonly_fields = fields
