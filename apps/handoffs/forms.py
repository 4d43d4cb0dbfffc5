"""Forms of the handoff pages: filing a handoff (a main form plus the agreement's triage
form) and the tiny forms of the actions on the detail page and in the queue.

The forms only parse what people type. Domain rules (a resolution needs a note, a plan
needs text, only provider members are assignable) live in the services, whose
ValidationError keys are these forms' field names; the views put them back on the field.
Text fields are therefore optional here, so that the service's message is the one shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.utils.safestring import SafeString, mark_safe

from apps.accounts.models import User
from apps.agreements.durations import format_duration
from apps.agreements.forms import triage_form_class
from apps.agreements.models import DEFAULT_IMPACT, Agreement, Metric, Priority, PriorityTarget
from apps.core import limits
from apps.core.html import format_html, format_html_join

from .models import Segment

TEXT_LIMIT = limits.HANDOFF_TEXT_MAX
PRIORITY_ORDER = {value: index for index, value in enumerate(Priority.values)}


def _textarea(rows: int = 3, **attrs) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, **attrs})


# --- filing a handoff --------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    """A priority choice as the requester reads it: what it means and what it promises."""

    priority: str
    label: str
    impact: str
    promise: str


def tier_of(target: PriorityTarget) -> Tier:
    business = not target.around_the_clock
    parts = []
    for metric in Metric:
        seconds = target.seconds_for(metric)
        if seconds is None:
            parts.append(f"{metric.label.lower()}: best effort")
        else:
            parts.append(
                f"{metric.label.lower()} within {format_duration(seconds, business=business)}"
            )
    promise = "; ".join(parts)
    if target.around_the_clock:
        promise += " (24×7)"
    return Tier(
        priority=target.priority,
        label=target.get_priority_display(),
        impact=target.impact or DEFAULT_IMPACT.get(target.priority, ""),
        promise=promise[:1].upper() + promise[1:],
    )


class HandoffForm(forms.Form):
    title = forms.CharField(
        max_length=limits.TITLE_MAX,
        error_messages={"required": "Give the handoff a title."},
        help_text="One line someone scanning the queue understands.",
    )
    priority = forms.ChoiceField(
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={"required": "Choose a priority: it sets the targets the clocks run to."},
    )
    customer_segment = forms.ChoiceField(
        choices=Segment.choices, initial=Segment.BUSINESS, label="Customer segment"
    )
    impacted_customers = forms.IntegerField(
        min_value=0,
        max_value=limits.IMPACTED_CUSTOMERS_MAX,
        initial=0,
        label="Impacted customers",
        help_text="How many customers are affected, as far as you know.",
        error_messages={"required": "Give the number of impacted customers (0 if none)."},
    )
    description = forms.CharField(
        required=False,
        max_length=TEXT_LIMIT,
        widget=_textarea(5),
        help_text="Anything the triage questions do not cover.",
    )

    def __init__(self, *args, agreement: Agreement, **kwargs):
        super().__init__(*args, **kwargs)
        targets = sorted(agreement.targets.all(), key=lambda t: PRIORITY_ORDER[t.priority])
        self.tiers = [tier_of(t) for t in targets]
        self.fields["priority"].choices = [(t.priority, t.label) for t in self.tiers]

    def priority_options(self) -> list[tuple[forms.BoundField, Tier]]:
        """Each radio button with the tier it stands for (same order as the choices)."""
        return list(zip(self["priority"], self.tiers, strict=True))


def triage_form(agreement: Agreement, data=None) -> forms.Form:
    """The agreement's triage template as a form, its required messages worded as the
    service (and the API) word them."""
    form = triage_form_class(agreement.triage_fields.all())(data, prefix="triage")
    for field in form.fields.values():
        field.error_messages["required"] = f"{field.label} is required."
    return form


# --- actions -----------------------------------------------------------------------------


# (form class, action) -> the markup of its blank form (`ActionForm.as_markup`).
_BLANK: dict[tuple[type, str], SafeString] = {}


class ActionForm(forms.Form):
    """Base of the action forms: built for one handoff and viewer; `service_kwargs()` is
    what the action's service takes besides `handoff` and `actor`."""

    def __init__(self, data=None, *, handoff, user, action: str, **kwargs):
        # Several action forms share field names (reason, comment) on one page: unique ids,
        # plain names.
        kwargs.setdefault("auto_id", f"id_{action}_%s")
        super().__init__(data, **kwargs)
        self.handoff = handoff
        self.user = user
        self.action = action

    def service_kwargs(self) -> dict:
        return dict(self.cleaned_data)

    def as_markup(self) -> SafeString:
        """The form's fields in the Bootstrap markup crispy-forms would write, built here: the
        detail page shows up to eight action forms, and crispy's templates per field were
        a third of its rendering time. Only what these forms use: text areas, selects and
        hidden inputs. A blank form of text fields alone is the same for every handoff:
        written once per process."""
        blank = (
            not self.is_bound
            and not self.initial
            and not any(isinstance(field, forms.ChoiceField) for field in self.fields.values())
        )
        key = (type(self), self.action)
        if blank and key in _BLANK:
            return _BLANK[key]
        markup = self._markup()
        if blank:
            _BLANK[key] = markup
        return markup

    def _markup(self) -> SafeString:
        parts = []
        if errors := self.non_field_errors():
            parts.append(
                format_html(
                    '<div class="alert alert-danger py-1" role="alert">{}</div>',
                    format_html_join(mark_safe("<br>"), "{}", ((e,) for e in errors)),
                )
            )
        parts.extend(field_markup(bound) for bound in self.visible_fields())
        parts.extend(
            format_html(
                '<input type="hidden" name="{}" value="{}" id="{}">',
                bound.html_name,
                bound.value() or "",
                bound.auto_id,
            )
            for bound in self.hidden_fields()
        )
        return mark_safe("".join(parts))  # noqa: S308 - every part built with format_html


def field_markup(bound: forms.BoundField) -> SafeString:
    """One text area or select with its label, help text and errors, as crispy-forms'
    Bootstrap 5 pack lays it out (the ids and classes the pages and tests rely on)."""
    field, widget, auto_id = bound.field, bound.field.widget, bound.auto_id
    invalid = " is-invalid" if bound.errors else ""
    help_id = f"{auto_id}_helptext" if field.help_text else ""
    attrs = format_html(' aria-describedby="{}"', help_id) if help_id else mark_safe("")
    if bound.errors:
        attrs = format_html('{} aria-invalid="true"', attrs)
    value = bound.value()
    if isinstance(widget, forms.Select):
        chosen = "" if value is None else str(value)
        options = format_html_join(
            " ",
            '<option value="{}"{}>{}</option>',
            (
                (key, mark_safe(" selected") if str(key) == chosen else "", label)
                for key, label in field.choices
            ),
        )
        control = format_html(
            '<select name="{}" class="select form-select{}"{} id="{}"> {} </select>',
            bound.html_name,
            invalid,
            attrs,
            auto_id,
            options,
        )
    elif isinstance(widget, forms.Textarea):
        control = format_html(
            '<textarea name="{}" cols="40" rows="{}"{} class="textarea form-control{}"{} id="{}">'
            "\n{}</textarea>",
            bound.html_name,
            widget.attrs.get("rows", 3),
            format_html(' maxlength="{}"', field.max_length) if field.max_length else "",
            invalid,
            attrs,
            auto_id,
            value or "",
        )
    else:  # a new kind of field on an action form: write its markup here first
        raise TypeError(f"No action-form markup for {type(widget).__name__} ({bound.name})")
    required = mark_safe('<span class="asteriskField">*</span>') if field.required else ""
    errors = format_html_join(
        " ",
        '<span id="error_{}_{}" class="invalid-feedback"><strong>{}</strong></span>',
        ((n, auto_id, e) for n, e in enumerate(bound.errors, start=1)),
    )
    helptext = (
        format_html('<div id="{}" class="form-text">{}</div>', help_id, field.help_text)
        if help_id
        else ""
    )
    return format_html(
        '<div id="div_{}" class="mb-3">'
        '<label for="{}" class="form-label{}">{}{}</label> {}{}{}</div>',
        auto_id,
        auto_id,
        " requiredField" if field.required else "",
        bound.label,
        required,
        control,
        errors,
        helptext,
    )


class NoInputForm(ActionForm):
    pass


class PlanForm(ActionForm):
    plan = forms.CharField(
        required=False,
        max_length=TEXT_LIMIT,
        widget=_textarea(4),
        label="Action plan",
        help_text="What will be done, by whom, by when.",
    )


class QuestionForm(ActionForm):
    question = forms.CharField(
        required=False,
        max_length=TEXT_LIMIT,
        widget=_textarea(3),
        label="Question for the requester",
        help_text="The clocks the agreement marks pausable stop until they reply.",
    )


class ReplyForm(ActionForm):
    reply = forms.CharField(
        required=False,
        max_length=TEXT_LIMIT,
        widget=_textarea(3),
        label="Reply",
        help_text="Answer the question; the paused clocks run again.",
    )


class ResolutionForm(ActionForm):
    resolution = forms.CharField(
        required=False,
        max_length=TEXT_LIMIT,
        widget=_textarea(3),
        label="Resolution",
        help_text="What was done, so that the requester can confirm it.",
    )


class CloseForm(ActionForm):
    comment = forms.CharField(
        required=False, max_length=TEXT_LIMIT, widget=_textarea(2), label="Comment (optional)"
    )


class ReasonForm(ActionForm):
    reason = forms.CharField(
        required=False, max_length=TEXT_LIMIT, widget=_textarea(2), label="Reason"
    )


class CommentForm(ActionForm):
    comment = forms.CharField(
        required=False, max_length=TEXT_LIMIT, widget=_textarea(3), label="Comment"
    )


class AssignForm(ActionForm):
    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="— nobody —"
    )
    # The "Take it" button posts take=1: assign to oneself whatever the select says.
    take = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, people=None, **kwargs):
        """`people`: the provider team's active members, when the page has read them (the
        detail page, with the handoff). Only a posted form, or one without them, builds
        the queryset that validates the choice."""
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        field.label_from_instance = lambda user: user.display_name
        if self.is_bound or people is None:
            field.queryset = User.objects.filter(
                memberships__team_id=self.handoff.provider_team_id, is_active=True
            ).order_by("first_name", "last_name", "username")
        if not self.is_bound:
            self.show(people)
            self.initial.setdefault("assignee", self.handoff.assignee_id)

    def show(self, people=None) -> None:
        """The select's options: `people`, else read in one plain query (a model choice
        field walks its queryset with a server-side cursor: three round trips)."""
        field = self.fields["assignee"]
        if people is None:
            people = field.queryset.only("pk", "first_name", "last_name", "username")
        field.choices = [("", field.empty_label), *((u.pk, u.display_name) for u in people)]

    def service_kwargs(self) -> dict:
        if self.cleaned_data.get("take"):
            return {"assignee": self.user}
        return {"assignee": self.cleaned_data.get("assignee")}


class PriorityForm(ActionForm):
    priority = forms.ChoiceField(label="New priority")
    reason = forms.CharField(
        required=False, max_length=TEXT_LIMIT, widget=_textarea(2), label="Reason"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        targets = sorted(
            self.handoff.agreement.targets.all(), key=lambda t: PRIORITY_ORDER[t.priority]
        )
        self.fields["priority"].choices = [(t.priority, t.get_priority_display()) for t in targets]
        if not self.is_bound:
            self.initial.setdefault("priority", self.handoff.priority)

    def clean_priority(self) -> str:
        # Said on the field, with the reason kept: the service's 409 (the API's answer)
        # would send the page back with only a message.
        priority = self.cleaned_data["priority"]
        if priority == self.handoff.priority:
            raise forms.ValidationError(f"The priority is already {priority}: choose another.")
        return priority
