from django import forms
from django.contrib import admin

from apps.core.destinations import check_webhook_url

from . import services
from .models import Membership, Team


def _become(obj, saved) -> None:
    """The admin's form and inlines hold `obj`: it takes on the row the service wrote."""
    obj.__dict__.update(saved.__dict__)


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

    # Writes go through the services (team_create / team_update, membership_set /
    # membership_remove); the form has already checked what they check.
    def save_model(self, request, obj, form, change):
        fields = {
            name: form.cleaned_data[name]
            for name in services.TEAM_FIELDS
            if name in form.cleaned_data
        }
        if change:
            # A fresh copy: the service compares with what is stored (the webhook).
            saved = services.team_update(team=Team.objects.get(pk=obj.pk), **fields)
        else:
            saved = services.team_create(**fields)
        _become(obj, saved)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        team = form.instance
        deleted = formset.deleted_forms
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for row in deleted:
            if row.instance.pk:
                services.membership_remove(team=team, user=row.initial["user"])
                formset.deleted_objects.append(row.instance)
        for row in formset.forms:
            if row in deleted or not row.has_changed() or not row.cleaned_data:
                continue
            if row.instance.pk and "user" in row.changed_data:
                # The row now names someone else: the one it named leaves the team.
                services.membership_remove(team=team, user=row.initial["user"])
            membership = services.membership_set(
                team=team, user=row.cleaned_data["user"], role=row.cleaned_data["role"]
            )
            if row.instance.pk:
                formset.changed_objects.append((membership, row.changed_data))
            else:
                formset.new_objects.append(membership)
        return None


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "team", "role")
    list_filter = ("role", "team")
    search_fields = ("user__username", "user__first_name", "user__last_name", "team__name")
    list_select_related = ("user", "team")
    autocomplete_fields = ["user", "team"]

    def save_model(self, request, obj, form, change):
        if change and {"user", "team"} & set(form.changed_data):
            before = Membership.objects.get(pk=obj.pk)
            services.membership_remove(team=before.team, user=before.user)
        _become(obj, services.membership_set(team=obj.team, user=obj.user, role=obj.role))

    def delete_model(self, request, obj):
        services.membership_remove(team=obj.team, user=obj.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("team", "user"):
            services.membership_remove(team=membership.team, user=membership.user)
