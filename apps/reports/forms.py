"""The report's question: which period, grouped how, filtered to what. One form reads the
query string of the page, its CSV exports and the API (`/api/reports/compliance/`), so
all three accept and refuse the same input with the same field-keyed messages.

Dates are local dates in the viewer's zone, both ends included: `from=2026-01-01&to=
2026-03-31` is the first quarter as the viewer's wall calendar has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone

from apps.agreements.models import Agreement, Priority
from apps.core import limits
from apps.core.fields import BoundedDateField
from apps.handoffs.models import Segment
from apps.teams.models import Team

GROUPS = {
    "team": "Provider team",
    "agreement": "Agreement",
    "priority": "Priority",
    "segment": "Customer segment",
    "month": "Month",
}
DEFAULT_DAYS = 90


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    since: date
    until: date


def user_zone(user) -> str:
    """The zone a user reads dates in (their profile's)."""
    return getattr(user, "time_zone", "") or "UTC"


def local_today(tz: str) -> date:
    return timezone.now().astimezone(ZoneInfo(tz)).date()


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def presets(today: date) -> list[Preset]:
    """The periods offered as one click: last 30 and 90 days (today included), this
    quarter so far and the last full quarter."""
    this_quarter = _quarter_start(today)
    last_quarter = _quarter_start(this_quarter - timedelta(days=1))
    return [
        Preset("last_30", "Last 30 days", today - timedelta(days=29), today),
        Preset("last_90", "Last 90 days", today - timedelta(days=DEFAULT_DAYS - 1), today),
        Preset("this_quarter", "This quarter", this_quarter, today),
        Preset("last_quarter", "Last quarter", last_quarter, this_quarter - timedelta(days=1)),
    ]


@dataclass(frozen=True)
class AgreementChoice:
    series_id: int
    title: str
    provider_team_id: int
    requesting_team_id: int


def agreement_choices(user) -> dict[int, AgreementChoice]:
    """Agreement series the user may see, each under the title of its newest visible
    version, in one query (a report groups and filters by series: every version of one
    promise counts together)."""
    choices: dict[int, AgreementChoice] = {}
    versions = (
        Agreement.objects.visible_to(user)
        .order_by("series_id", "-version")
        .values_list("series_id", "title", "series__provider_team_id", "series__requesting_team_id")
    )
    for series_id, title, provider, requester in versions:
        choices.setdefault(series_id, AgreementChoice(series_id, title, provider, requester))
    return choices


class ReportForm(forms.Form):
    """`from`, `to`, `group_by` and the filters. Choices are checked in Python (no query
    with what the user typed), from two queries: the teams and the visible agreements."""

    group_by = forms.ChoiceField(
        label="Group by", choices=list(GROUPS.items()), required=False, initial="team"
    )
    provider_team = forms.ChoiceField(label="Provider team", required=False)
    requesting_team = forms.ChoiceField(label="Requesting team", required=False)
    agreement = forms.TypedChoiceField(label="Agreement", required=False, coerce=int)
    priority = forms.ChoiceField(
        label="Priority", choices=[("", "Any priority"), *Priority.choices], required=False
    )

    def __init__(self, data=None, *, user, today: date, **kwargs):
        super().__init__(data, **kwargs)
        # `from` is a Python keyword: these two are added by name.
        self.fields = {
            name: BoundedDateField(
                label=label,
                required=False,
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            )
            for name, label in (("from", "From"), ("to", "To (included)"))
        } | self.fields
        self.today = today
        self.teams = {team.pk: team for team in Team.objects.order_by("name")}
        self.agreements = agreement_choices(user)
        team_choices = [("", "Any team")] + [(t.slug, t.name) for t in self.teams.values()]
        self.fields["provider_team"].choices = team_choices
        self.fields["requesting_team"].choices = team_choices
        self.fields["agreement"].choices = [("", "Any agreement")] + [
            (a.series_id, a.title)
            for a in sorted(self.agreements.values(), key=lambda a: a.title.lower())
        ]
        default = presets(today)[1]
        self.fields["from"].initial = default.since
        self.fields["to"].initial = default.until

    def clean(self):
        cleaned = super().clean()
        if "from" in self.errors or "to" in self.errors:
            return cleaned
        since, until = cleaned.get("from"), cleaned.get("to")
        default = presets(self.today)[1]
        if since is None and until is None:
            since, until = default.since, default.until
        elif since is None:
            since = max(limits.DATE_MIN, until - timedelta(days=DEFAULT_DAYS - 1))
        elif until is None:
            until = min(limits.DATE_MAX, max(since, self.today))
        if since > until:
            self.add_error("to", "The end of the period comes before its start.")
        elif (until - since).days + 1 > limits.REPORT_DAYS_MAX:
            self.add_error("to", f"A report covers at most {limits.REPORT_DAYS_MAX} days.")
        cleaned["from"], cleaned["to"] = since, until
        cleaned["group_by"] = cleaned.get("group_by") or "team"
        by_slug = {t.slug: t for t in self.teams.values()}
        for name in ("provider_team", "requesting_team"):
            cleaned[name] = by_slug.get(cleaned.get(name) or "")
        return cleaned

    def query(self) -> ReportQuery:
        """The validated question (call after `is_valid()`)."""
        data = self.cleaned_data
        return ReportQuery(
            since=data["from"],
            until=data["to"],
            group_by=data["group_by"],
            provider_team=data["provider_team"],
            requesting_team=data["requesting_team"],
            agreement=data.get("agreement") or None,
            priority=data.get("priority") or None,
        )


@dataclass(frozen=True)
class ReportQuery:
    since: date
    until: date  # included
    group_by: str = "team"
    provider_team: Team | None = None
    requesting_team: Team | None = None
    agreement: int | None = None  # a series id
    priority: str | None = None

    def bounds(self, tz: str) -> tuple[datetime, datetime]:
        """[local midnight at `since`, local midnight after `until`) as aware UTC."""
        zone = ZoneInfo(tz)
        return tuple(
            datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
            for day in (self.since, self.until + timedelta(days=1))
        )

    def params(self) -> dict[str, str]:
        """The query string that asks this question again (CSV links, the API)."""
        params = {
            "from": self.since.isoformat(),
            "to": self.until.isoformat(),
            "group_by": self.group_by,
        }
        if self.provider_team:
            params["provider_team"] = self.provider_team.slug
        if self.requesting_team:
            params["requesting_team"] = self.requesting_team.slug
        if self.agreement:
            params["agreement"] = str(self.agreement)
        if self.priority:
            params["priority"] = self.priority
        return params


SEGMENT_LABELS = dict(Segment.choices)
PRIORITY_LABELS = dict(Priority.choices)
