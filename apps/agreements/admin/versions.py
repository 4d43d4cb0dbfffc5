"""Admin for agreement versions and series: staff read every version with its history;
a draft's fields and parts are saved by `agreement_update_draft`, lifecycle steps are admin
actions. A version that is no longer a draft is read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from simple_history.admin import SimpleHistoryAdmin

from apps.core.exceptions import Conflict

from .. import services
from ..models import (
    Agreement,
    AgreementApproval,
    AgreementSeries,
    EscalationStep,
    PriorityTarget,
    Status,
    TriageField,
)

LIFECYCLE_FIELDS = (
    "series",
    "version",
    "status",
    "created_by",
    "submitted_at",
    "activated_at",
    "ended_at",
)


def _is_draft(agreement: Agreement | None) -> bool:
    return agreement is not None and agreement.status == Status.DRAFT


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    if isinstance(exc, Conflict):
        return exc.message
    return str(exc) or "You may not do that."


# --- a draft's parts -------------------------------------------------------------------------
#
# Why validate in the formsets and save in save_related: the admin validates the version's
# form and each inline formset on its own, then saves. The service takes the whole version
# at once and replaces its parts, so saving goes through `agreement_update_draft` in
# `save_related` (where every formset is at hand). Its ValidationError would come too late
# there to be shown on a field, so each formset first runs `validate_version` on its own
# part (the rules never span two parts) and puts every message on the row and field it
# concerns, exactly as the page's formsets do. One rule spans two parts (a step that
# raises the priority needs the next tier up among the targets): the steps' formset reads
# the targets from its sibling formset, which `AgreementAdmin._create_formsets` links.


class PartFormSet(BaseInlineFormSet):
    part: str  # the service's name for the part: targets, triage_fields, steps
    part_fields: tuple[str, ...]
    siblings: dict[str, PartFormSet] | None = None

    def kept(self) -> list[tuple[forms.ModelForm, dict]]:
        """The rows that will exist after saving, each with its data as the service
        takes it (blank extra rows and rows marked for deletion left out)."""
        rows = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            if form.instance.pk is None and not form.has_changed():
                continue
            rows.append((form, {name: data.get(name) for name in self.part_fields}))
        return rows

    def validate_unique(self):
        # Duplicates (two P1 tiers, two fields keyed "logs") are rules of validate_version,
        # which names the row and field; Django's check would only say "duplicate data".
        pass

    def clean(self):
        super().clean()
        rows = self.kept()
        parts = {"targets": [], "triage_fields": [], "steps": []}
        parts[self.part] = [data for _, data in rows]
        if self.part == "steps":
            parts["targets"] = self._targets()
        try:
            services.validate_version(fields={}, **parts)
        except ValidationError as exc:
            for key, messages_ in exc.message_dict.items():
                head, _, rest = key.partition(".")
                if head != self.part:
                    continue  # the version's own fields: checked by its form
                index, _, field = rest.partition(".")
                form = rows[int(index)][0]
                if set(form.errors) - {NON_FIELD_ERRORS}:
                    continue  # a row with type errors is judged once they are fixed
                form.add_error(field if field in form.fields else None, messages_)

    def _targets(self) -> list[dict]:
        """The tiers the version will have: as posted alongside, else as stored."""
        sibling = (self.siblings or {}).get("targets")
        if sibling is None:
            return [{"priority": t.priority} for t in self.instance.targets.all()]
        if not sibling.is_valid():
            return []  # judged once the tiers themselves are right
        return [data for _, data in sibling.kept()]


class TargetFormSet(PartFormSet):
    part = "targets"
    part_fields = services.TARGET_FIELDS


class TriageFieldFormSet(PartFormSet):
    part = "triage_fields"
    part_fields = services.TRIAGE_FIELDS


class StepFormSet(PartFormSet):
    part = "steps"
    part_fields = services.STEP_FIELDS


class TriageFieldForm(forms.ModelForm):
    class Meta:
        model = TriageField
        fields = list(services.TRIAGE_FIELDS)

    def clean_choices(self):
        choices = self.cleaned_data.get("choices")
        if choices in (None, ""):
            return []
        if not isinstance(choices, list) or not all(
            isinstance(c, str | int | float) for c in choices
        ):
            raise ValidationError('Write the options as a JSON list: ["production", "staging"].')
        return choices


class PartInline(admin.TabularInline):
    """Editable only while the version is a draft."""

    extra = 0

    def has_add_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _is_draft(obj) and super().has_delete_permission(request, obj)


class PriorityTargetInline(PartInline):
    model = PriorityTarget
    formset = TargetFormSet
    fields = services.TARGET_FIELDS


class TriageFieldInline(PartInline):
    model = TriageField
    form = TriageFieldForm
    formset = TriageFieldFormSet
    fields = services.TRIAGE_FIELDS


class EscalationStepInline(PartInline):
    model = EscalationStep
    formset = StepFormSet
    fields = services.STEP_FIELDS
    raw_id_fields = ["user"]


class AgreementApprovalInline(admin.TabularInline):
    """Approvals are given by leads on the page or the API, never typed in here."""

    model = AgreementApproval
    extra = 0
    fields = ("team", "user", "approved_at", "comment")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AgreementAdminForm(forms.ModelForm):
    class Meta:
        model = Agreement
        fields = list(services.AGREEMENT_FIELDS)

    def clean(self):
        cleaned = super().clean()
        fields = {name: cleaned.get(name) for name in services.AGREEMENT_FIELDS}
        try:
            services.validate_version(fields=fields, targets=[], triage_fields=[], steps=[])
        except ValidationError as exc:
            for name, messages_ in exc.message_dict.items():
                if name in self.fields and name not in self.errors:
                    self.add_error(name, messages_)
        return cleaned


# --- agreements ----------------------------------------------------------------------------


@admin.register(Agreement)
class AgreementAdmin(SimpleHistoryAdmin):
    form = AgreementAdminForm
    list_display = (
        "title",
        "version",
        "status",
        "kind",
        "requesting_team",
        "provider_team",
        "activated_at",
        "updated_at",
    )
    list_filter = ("status", "kind", "series__provider_team", "series__requesting_team")
    search_fields = (
        "title",
        "service_description",
        "series__provider_team__name",
        "series__requesting_team__name",
    )
    list_select_related = ("series__provider_team", "series__requesting_team")
    date_hierarchy = "created_at"
    ordering = ("title", "-version")
    fieldsets = (
        (None, {"fields": ("series", "version", "status", "title", "kind")}),
        (
            "Service",
            {"fields": ("service_description", "scope_included", "scope_excluded", "customer_sla")},
        ),
        (
            "Clocks",
            {
                "fields": (
                    "calendar",
                    "warning_threshold",
                    "waiting_auto_close_days",
                    "confirmation_days",
                )
            },
        ),
        (
            "Responsibilities",
            {
                "fields": (
                    "initial_response_by",
                    "triage_by",
                    "updates_by",
                    "resolution_validated_by",
                )
            },
        ),
        (
            "Review and playbook",
            {"fields": ("review_cadence_months", "next_review_date", "playbook", "change_summary")},
        ),
        ("Lifecycle", {"fields": ("created_by", "submitted_at", "activated_at", "ended_at")}),
    )
    inlines = [
        PriorityTargetInline,
        TriageFieldInline,
        EscalationStepInline,
        AgreementApprovalInline,
    ]
    actions = ["submit_versions", "retire_versions"]

    @admin.display(ordering="series__provider_team__name")
    def provider_team(self, obj):
        return obj.series.provider_team

    @admin.display(ordering="series__requesting_team__name")
    def requesting_team(self, obj):
        return obj.series.requesting_team

    # Permissions. New agreements start on the page or the API (agreement_create_draft
    # opens their series too); nothing is ever deleted; only a draft changes.

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and not _is_draft(obj):
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if _is_draft(obj):
            return LIFECYCLE_FIELDS
        return LIFECYCLE_FIELDS + services.AGREEMENT_FIELDS

    # History: viewing old versions yes, reverting no: a revert would bypass the services
    # and could not restore the parts, which are not historical.

    def has_change_history_permission(self, request, obj=None):
        return False

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    # Saving a draft: see the note above PartFormSet.

    def _create_formsets(self, request, obj, change):
        formsets, inline_instances = super()._create_formsets(request, obj, change)
        siblings = {f.part: f for f in formsets if isinstance(f, PartFormSet)}
        for formset in siblings.values():
            formset.siblings = siblings
        return formsets, inline_instances

    def save_model(self, request, obj, form, change):
        pass  # written together with its parts in save_related

    def save_related(self, request, form, formsets, change):
        fields = {
            name: form.cleaned_data[name]
            for name in services.AGREEMENT_FIELDS
            if name in form.cleaned_data
        }
        parts = {
            formset.part: [data for _, data in formset.kept()]
            for formset in formsets
            if isinstance(formset, PartFormSet)
        }
        try:
            services.agreement_update_draft(
                agreement=form.instance, actor=request.user, **fields, **parts
            )
        except (ValidationError, PermissionDenied, Conflict) as exc:
            # Only a race gets here (say, the draft was submitted meanwhile): the forms
            # have already checked every rule.
            request._agreement_not_saved = True
            self.message_user(request, f"Not saved: {error_text(exc)}", messages.ERROR)

    def construct_change_message(self, request, form, formsets, add=False):
        # The parts are replaced by the service, not saved row by row by the formsets.
        changed = list(form.changed_data) + [
            formset.part
            for formset in formsets
            if isinstance(formset, PartFormSet) and formset.has_changed()
        ]
        return [{"changed": {"fields": changed}}] if changed else []

    def log_change(self, request, obj, message):
        if getattr(request, "_agreement_not_saved", False):
            return None
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        if getattr(request, "_agreement_not_saved", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    # Lifecycle actions, one service call per version; refusals are messages, never a 500.

    def _each(self, request, queryset, done: str, service, **kwargs) -> None:
        succeeded = 0
        for agreement in queryset:
            try:
                service(agreement=agreement, actor=request.user, **kwargs)
            except (ValidationError, PermissionDenied, Conflict) as exc:
                self.message_user(request, f"{agreement}: {error_text(exc)}", messages.ERROR)
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, f"{succeeded} version(s) {done}.", messages.SUCCESS)

    @admin.action(description="Submit the selected drafts for approval", permissions=["change"])
    def submit_versions(self, request, queryset):
        self._each(request, queryset, "submitted", services.agreement_submit)

    @admin.action(
        description="Retire the selected versions (withdraws drafts)", permissions=["change"]
    )
    def retire_versions(self, request, queryset):
        self._each(
            request, queryset, "retired", services.agreement_retire, reason="Retired in the admin."
        )


class AgreementVersionInline(admin.TabularInline):
    model = Agreement
    fields = ("version", "status", "title", "activated_at", "ended_at")
    readonly_fields = fields
    show_change_link = True
    extra = 0
    ordering = ("-version",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AgreementSeries)
class AgreementSeriesAdmin(admin.ModelAdmin):
    """Read-only: a series is opened by the first draft and lives as long as its versions."""

    list_display = ("__str__", "requesting_team", "provider_team", "created_at")
    list_filter = ("provider_team", "requesting_team")
    search_fields = ("provider_team__name", "requesting_team__name")
    list_select_related = ("provider_team", "requesting_team")
    inlines = [AgreementVersionInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
