"""Forms of the version pages: the draft editor (a main form and three formsets) and the
small action forms (comment, retire, decide).

The editor forms only parse what people type (durations, one choice per line); every
domain rule lives in `services.validate_version`, whose dotted error keys
(`targets.2.resolve_seconds`) the view maps back onto the form that was sent at that
position.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator

from apps.accounts.models import User
from apps.calendars.models import BusinessCalendar
from apps.core import limits
from apps.core.fields import BoundedDateField
from apps.core.forms import textarea
from apps.teams.models import Team

from ..durations import duration_input, parse_duration
from ..models import DEFAULT_IMPACT, Agreement, FieldKind, Metric, Notify, Priority
from ..services import AGREEMENT_FIELDS

# --- the draft editor ------------------------------------------------------------------
from .triage import field_value


class TeamPairForm(forms.Form):
    """Who promises what to whom: chosen once, when the agreement is first drafted."""

    requesting_team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        help_text="The team that hands work over.",
    )
    provider_team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        help_text="The team that does the work and keeps the clocks.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        teams = Team.objects.visible_to(user).order_by("name")
        led = list(Team.objects.led_by(user).order_by("name"))
        led_ids = {t.pk for t in led}
        others = [t for t in teams if t.pk not in led_ids]
        # Teams the user leads first: one of the two sides must be one of them.
        grouped = [("", "—")]
        if led:
            grouped.append(("Teams you lead", [(t.pk, t.name) for t in led]))
        if others:
            grouped.append(("Other teams", [(t.pk, t.name) for t in others]))
        for name in ("requesting_team", "provider_team"):
            self.fields[name].queryset = teams
            self.fields[name].choices = grouped
        if led and not self.is_bound:
            self.initial.setdefault("requesting_team", led[0].pk)

    def clean(self):
        cleaned = super().clean()
        provider, requesting = cleaned.get("provider_team"), cleaned.get("requesting_team")
        if provider and requesting and provider == requesting:
            self.add_error("provider_team", "A team cannot make an agreement with itself.")
        return cleaned


LONG_TEXT_FIELDS = (
    "service_description",
    "scope_included",
    "scope_excluded",
    "customer_sla",
    "playbook",
    "change_summary",
)


def _limit_length(field: forms.CharField, limit: int) -> None:
    """Give a model form's text field the size limit the API has (TextFields have none)."""
    if field.max_length is None or field.max_length > limit:
        field.max_length = limit
        field.validators.append(MaxLengthValidator(limit))
        field.widget.attrs["maxlength"] = str(limit)


class AgreementForm(forms.ModelForm):
    """The plain fields of a version. Domain rules are checked by the service."""

    class Meta:
        model = Agreement
        fields = AGREEMENT_FIELDS
        widgets = {
            "service_description": textarea(3),
            "scope_included": textarea(3),
            "scope_excluded": textarea(3),
            "customer_sla": textarea(2),
            "playbook": textarea(6),
            "change_summary": textarea(2),
            "next_review_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        field_classes = {"next_review_date": BoundedDateField}

    def __init__(self, *args, creating: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        for name in LONG_TEXT_FIELDS:
            _limit_length(self.fields[name], limits.LONG_TEXT_MAX)
        _limit_length(self.fields["title"], limits.TITLE_MAX)
        calendar = self.fields["calendar"]
        calendar.queryset = BusinessCalendar.objects.order_by("name")
        if creating:
            # Left empty, the service takes the provider team's own calendar.
            calendar.required = False
            calendar.empty_label = "The provider team's calendar"

    def service_fields(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in AGREEMENT_FIELDS}


class DurationField(forms.CharField):
    """A target typed as "30m", "2h", "1h30m"; blank is best effort. Cleans to seconds."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        # No max_length: its validator would run on the cleaned value, an int.
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"placeholder": "best effort", "size": 8, "maxlength": 20}),
        )
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, int):
            return duration_input(value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise ValidationError(str(exc), code="duration") from exc

    def has_changed(self, initial, data) -> bool:
        return (self.prepare_value(initial) or "") != (data or "").strip()


class TargetForm(forms.Form):
    priority = forms.ChoiceField(choices=[("", "—"), *Priority.choices])
    impact = forms.CharField(
        label="Impact definition",
        required=False,
        widget=textarea(2),
        max_length=limits.LONG_TEXT_MAX,
    )
    acknowledge_seconds = DurationField(label="Acknowledge")
    action_plan_seconds = DurationField(label="Action plan")
    resolve_seconds = DurationField(label="Resolve")
    around_the_clock = forms.BooleanField(
        label="24×7", required=False, help_text="Ignore the calendar."
    )
    pause_action_plan = forms.BooleanField(label="Action plan", required=False, initial=True)
    pause_resolve = forms.BooleanField(label="Resolve", required=False, initial=True)

    @classmethod
    def initial_for(cls, target) -> dict:
        return {name: getattr(target, name) for name in cls.base_fields}


class TriageFieldForm(forms.Form):
    key = forms.CharField(
        max_length=limits.TRIAGE_KEY_MAX,
        help_text="Lowercase letters, digits and _.",
        required=False,
    )
    label = forms.CharField(max_length=limits.TRIAGE_LABEL_MAX, required=False)
    help_text = forms.CharField(
        max_length=limits.TRIAGE_HELP_TEXT_MAX,
        required=False,
        help_text="Plain text, shown under the field.",
    )
    kind = forms.ChoiceField(choices=FieldKind.choices, initial=FieldKind.TEXT)
    choices = forms.CharField(
        required=False,
        widget=textarea(2),
        help_text="Choice fields: one option per line.",
    )
    required = forms.BooleanField(required=False, initial=True)
    pattern = forms.CharField(
        max_length=limits.TRIAGE_PATTERN_MAX,
        required=False,
        help_text="Optional regular expression the whole answer must match.",
    )
    order = forms.IntegerField(min_value=0, max_value=limits.SMALL_INT_MAX, required=False)

    def clean_choices(self) -> list[str]:
        text = self.cleaned_data.get("choices") or ""
        choices = [line.strip() for line in text.splitlines() if line.strip()]
        if len(choices) > limits.PARTS_MAX:
            raise ValidationError(f"At most {limits.PARTS_MAX} choices.")
        too_long = [c for c in choices if len(c) > limits.TRIAGE_CHOICE_MAX]
        if too_long:
            raise ValidationError(
                f"A choice has at most {limits.TRIAGE_CHOICE_MAX} characters; "
                f"“{too_long[0][:30]}…” has {len(too_long[0])}."
            )
        return choices

    @classmethod
    def initial_for(cls, field) -> dict:
        initial = {name: field_value(field, name) for name in cls.base_fields}
        initial["choices"] = "\n".join(field_value(field, "choices") or [])
        return initial


class EscalationStepForm(forms.Form):
    metric = forms.ChoiceField(choices=[("", "—"), *Metric.choices])
    percent = forms.IntegerField(
        min_value=1,
        max_value=limits.STEP_PERCENT_MAX,
        help_text="Of the target, e.g. 75, 100, 150.",
    )
    notify = forms.ChoiceField(choices=Notify.choices, initial=Notify.ASSIGNEE)
    user = forms.ModelChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Named person",
        help_text="Only when notifying a named person.",
    )
    raise_priority = forms.BooleanField(required=False, help_text="One level up.")

    def __init__(self, *args, users=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = (
            users if users is not None else User.objects.filter(is_active=True)
        )

    @classmethod
    def initial_for(cls, step) -> dict:
        return {
            "metric": step.metric,
            "percent": step.percent,
            "notify": step.notify,
            "user": step.user_id,
            "raise_priority": step.raise_priority,
        }


class BasePartFormSet(forms.BaseFormSet):
    """A formset of parts (targets, triage fields, steps) sent to the service as dicts."""

    def sent_forms(self) -> list[forms.Form]:
        """The forms whose data goes to the service, in order: not deleted, and not an
        untouched blank extra form. Position N here is index N of a service error key."""
        sent = []
        for index, form in enumerate(self.forms):
            if self.can_delete and self._should_delete_form(form):
                continue
            if index >= self.initial_form_count() and not form.has_changed():
                continue
            sent.append(form)
        return sent

    def service_data(self) -> list[dict]:
        return [
            {name: value for name, value in form.cleaned_data.items() if name != "DELETE"}
            for form in self.sent_forms()
        ]

    def add_non_form_error(self, message) -> None:
        self.non_form_errors()  # builds the error list on first access
        self._non_form_errors.extend(message if isinstance(message, list) else [message])


def part_formset(form_class, *, extra: int):
    return forms.formset_factory(
        form_class, formset=BasePartFormSet, extra=extra, can_delete=True, max_num=50
    )


# Prefixes double as the service's names for the parts (`targets.2.…`).
TARGETS, TRIAGE, STEPS = "targets", "triage_fields", "steps"


def default_targets() -> list[dict]:
    return [
        {
            "priority": p.value,
            "impact": DEFAULT_IMPACT[p],
            "around_the_clock": p == Priority.P1,
            "pause_action_plan": True,
            "pause_resolve": True,
        }
        for p in Priority
    ]


# The escalation triage template of the domain reading.
DEFAULT_TRIAGE_FIELDS = [
    {
        "key": "steps_to_reproduce",
        "label": "Steps to reproduce",
        "kind": FieldKind.LONG_TEXT,
        "help_text": "What the customer did, step by step.",
        "required": True,
    },
    {
        "key": "expected_vs_actual",
        "label": "Expected vs actual",
        "kind": FieldKind.LONG_TEXT,
        "help_text": "What should have happened, and what happened instead.",
        "required": True,
    },
    {
        "key": "environment",
        "label": "Environment",
        "kind": FieldKind.CHOICE,
        "choices": ["production", "staging", "development"],
        "required": True,
    },
    {
        "key": "logs",
        "label": "Logs / links",
        "kind": FieldKind.LONG_TEXT,
        "help_text": "Log excerpts, screenshots, links to traces or tickets.",
        "required": False,
    },
    {
        "key": "impacted_customers",
        "label": "Impacted customers",
        "kind": FieldKind.TEXT,
        "help_text": "Which accounts, and how many.",
        "required": True,
    },
]

DEFAULT_STEPS = [
    {"metric": Metric.ACKNOWLEDGE, "percent": 100, "notify": Notify.PROVIDER_TEAM},
    {"metric": Metric.RESOLVE, "percent": 75, "notify": Notify.ASSIGNEE},
    {"metric": Metric.RESOLVE, "percent": 100, "notify": Notify.PROVIDER_LEAD},
    {"metric": Metric.RESOLVE, "percent": 150, "notify": Notify.BOTH_LEADS, "raise_priority": True},
]


def editor_formsets(data=None, *, agreement: Agreement | None = None, users=None) -> dict:
    """The three formsets of the editor, prefilled from a version or with the defaults.

    Bound to posted data they take no initial values: the management form says how many
    forms were prefilled, and a blank extra form must compare as unchanged against the
    fields' own defaults, not against whatever default row happened to share its index."""
    if data is not None:
        targets = triage = steps = None
    elif agreement is not None:
        targets = [TargetForm.initial_for(t) for t in agreement.targets.all()]
        triage = [TriageFieldForm.initial_for(f) for f in agreement.triage_fields.all()]
        steps = [EscalationStepForm.initial_for(s) for s in agreement.escalation_steps.all()]
    else:
        targets = default_targets()
        triage = [TriageFieldForm.initial_for(f) for f in DEFAULT_TRIAGE_FIELDS]
        steps = [{**s, "raise_priority": s.get("raise_priority", False)} for s in DEFAULT_STEPS]
    kwargs = {} if data is None else {"data": data}
    return {
        TARGETS: part_formset(TargetForm, extra=max(0, len(Priority) - len(targets or [])))(
            prefix=TARGETS, initial=targets, **kwargs
        ),
        TRIAGE: part_formset(TriageFieldForm, extra=2)(prefix=TRIAGE, initial=triage, **kwargs),
        STEPS: part_formset(EscalationStepForm, extra=2)(
            prefix=STEPS, initial=steps, form_kwargs={"users": users}, **kwargs
        ),
    }


# --- actions -----------------------------------------------------------------------------


class CommentForm(forms.Form):
    comment = forms.CharField(
        required=False, widget=textarea(2), max_length=limits.DECISION_TEXT_MAX
    )


class RetireForm(forms.Form):
    reason = forms.CharField(
        required=False, widget=textarea(2), max_length=limits.DECISION_TEXT_MAX
    )


class DecisionForm(forms.Form):
    note = forms.CharField(required=False, max_length=limits.DECISION_TEXT_MAX)
