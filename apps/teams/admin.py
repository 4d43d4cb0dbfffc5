from django import forms
from django.contrib import admin

from apps.core.destinations import check_webhook_url

from .models import Membership, Team


class TeamAdminForm(forms.ModelForm):
    webhook_url = forms.URLField(
        required=False,
        max_length=Team._meta.get_field("webhook_url").max_length,
        assume_scheme="https",
        help_text=Team._meta.get_field("webhook_url").help_text,
    )

    class Meta:
        model = Team
        fields = "__all__"  # noqa: DJ007 - the admin edits every field, as without a form

    def clean_webhook_url(self):
        # Staff are held to the same destinations as leads (WEBHOOK_ALLOW_PRIVATE aside).
        url = self.cleaned_data.get("webhook_url", "")
        if url and url != self.initial.get("webhook_url"):
            check_webhook_url(url)
        return url


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamAdminForm
    list_display = ("name", "slug", "email", "calendar", "manager", "director")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    list_select_related = ("calendar", "manager", "director")
    # The escalation path beyond the leads: ladder steps naming the team's manager or
    # director reach them (an empty role falls back, see Team.escalation_contacts).
    autocomplete_fields = ["manager", "director"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "team", "role")
    list_filter = ("role", "team")
    search_fields = ("user__username", "user__first_name", "user__last_name", "team__name")
    list_select_related = ("user", "team")
    autocomplete_fields = ["user", "team"]
