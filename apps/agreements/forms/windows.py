"""The form of an exception window request."""

from __future__ import annotations

from django import forms
from django.db.models import OuterRef, Subquery

from apps.core import limits
from apps.core.fields import AwareDateTimeField
from apps.core.forms import textarea
from apps.teams.models import Team

from ..models import Agreement, AgreementSeries


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


class ExceptionWindowForm(forms.Form):
    """Start and end are wall-clock times in the user's zone (the active time zone)."""

    provider_team = forms.ModelChoiceField(
        queryset=Team.objects.none(), label="Provider team", empty_label=None
    )
    series = forms.ModelChoiceField(
        queryset=AgreementSeries.objects.none(),
        required=False,
        label="Agreement",
        empty_label="All of the team's agreements",
    )
    start = AwareDateTimeField(widget=LocalDateTimeInput())
    end = AwareDateTimeField(widget=LocalDateTimeInput())
    reason = forms.CharField(
        widget=textarea(3),
        max_length=limits.DECISION_TEXT_MAX,
        help_text="Outage, launch, force majeure… and what it affects.",
    )
    # Not required here: the service says what is missing, on the field (seed 003's
    # documentation of an exception).
    affected_customers = forms.CharField(
        widget=textarea(2),
        required=False,
        help_text="Which customers or segments feel the delay, and how many (or “none”).",
    )
    communication_plan = forms.CharField(
        widget=textarea(2),
        required=False,
        help_text="Who tells the requesting teams and customers, how and when.",
    )

    def __init__(self, *args, user, team: Team | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        teams = Team.objects.all() if user.is_staff else Team.objects.of_member(user)
        self.fields["provider_team"].queryset = teams.order_by("name")
        latest_title = (
            Agreement.objects.filter(series=OuterRef("pk")).order_by("-version").values("title")
        )
        series = AgreementSeries.objects.filter(provider_team__in=teams.values("pk"))
        if team is not None:
            series = series.filter(provider_team=team)
            self.initial.setdefault("provider_team", team.pk)
        self.fields["series"].queryset = series.select_related(
            "provider_team", "requesting_team"
        ).annotate(latest_title=Subquery(latest_title[:1]))
        self.fields["series"].label_from_instance = lambda s: (
            f"{s.latest_title} ({s.requesting_team} → {s.provider_team})"
        )

    def clean(self):
        cleaned = super().clean()
        team, series = cleaned.get("provider_team"), cleaned.get("series")
        if team and series and series.provider_team_id != team.pk:
            self.add_error("series", f"That agreement is not one {team} provides.")
        return cleaned
