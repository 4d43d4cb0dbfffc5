"""One FilterSet for the queue pages and the API list."""

import django_filters
from django.db.models import Q
from django.utils import timezone

from apps.agreements.models import Priority
from apps.core import limits
from apps.teams.models import Team

from .clockwork.verdict import handoff_at_risk_q, handoff_breached_q
from .models import OPEN_STATUSES, Handoff, Status

MAX_ID = limits.INT_MAX


# The queue's tabs read the one verdict (clockwork.verdict).


class HandoffFilter(django_filters.FilterSet):
    # distinct=False: these are columns of the handoff itself, no join can duplicate a row,
    # and DISTINCT would sort every matching row instead of reading the queue index.
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, distinct=False)
    open = django_filters.BooleanFilter(method="filter_open", label="Open only")
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    agreement = django_filters.NumberFilter(
        field_name="agreement_id", min_value=1, max_value=MAX_ID
    )
    provider_team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.all(), to_field_name="slug"
    )
    requesting_team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.all(), to_field_name="slug"
    )
    assignee = django_filters.CharFilter(
        method="filter_assignee", label="Assignee (user id, “me” or “none”)"
    )
    filed_by = django_filters.CharFilter(
        method="filter_filed_by", label="Filed by (user id or “me”)"
    )
    breached = django_filters.BooleanFilter(method="filter_breached")
    at_risk = django_filters.BooleanFilter(method="filter_at_risk", label="At risk")
    due_before = django_filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lte")
    q = django_filters.CharFilter(method="filter_q", label="Search")

    class Meta:
        model = Handoff
        fields = [
            "status",
            "open",
            "priority",
            "agreement",
            "provider_team",
            "requesting_team",
            "assignee",
            "filed_by",
            "breached",
            "at_risk",
            "due_before",
            "q",
        ]

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None, now=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        # The moment the at-risk and breached filters read (the request's, once).
        self.now = now

    def get_form_class(self):
        """The form's class, made once per FilterSet class (django-filter makes a new one,
        with a new field per filter, on every request): its fields depend on the declared
        filters alone, none of which reads the request. Each form still gets its own copy
        of the fields."""
        cls = type(self)
        if "_form_class" not in cls.__dict__:
            cls._form_class = super().get_form_class()
        return cls._form_class

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        return (
            queryset.filter(status__in=OPEN_STATUSES)
            if value
            else queryset.exclude(status__in=OPEN_STATUSES)
        )

    def _person(self, queryset, field: str, value: str):
        """`field` is "me" (the signed-in person) or a user id; empty filters nothing."""
        value = (value or "").strip().lower()
        if not value:
            return queryset
        if value == "me":
            user = getattr(self.request, "user", None)
            if user is None or not user.is_authenticated:
                return queryset.none()
            return queryset.filter(**{f"{field}_id": user.pk})
        # ASCII digits within the id range only: "²" passes isdigit() and fails int(), and
        # a larger number would overflow the database's integer.
        user_id = limits.parse_id(value)
        return queryset.none() if user_id is None else queryset.filter(**{f"{field}_id": user_id})

    def filter_assignee(self, queryset, name, value):
        if (value or "").strip().lower() == "none":
            return queryset.filter(assignee__isnull=True)
        return self._person(queryset, "assignee", value)

    def filter_filed_by(self, queryset, name, value):
        return self._person(queryset, "created_by", value)

    def filter_breached(self, queryset, name, value):
        if value is None:
            return queryset
        condition = handoff_breached_q(self.now or timezone.now())
        return queryset.filter(condition) if value else queryset.exclude(condition)

    def filter_at_risk(self, queryset, name, value):
        if value is None:
            return queryset
        condition = handoff_at_risk_q(self.now or timezone.now())
        return queryset.filter(condition) if value else queryset.exclude(condition)

    def filter_q(self, queryset, name, value):
        if not value:
            return queryset
        # "#42" or "42" also finds handoff 42 (ASCII digits within the id range only).
        pk = limits.parse_id(value.strip().lstrip("#"))
        if pk is not None:
            return queryset.filter(Q(pk=pk) | Q(title__icontains=value))
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value))


# Queue tabs are presets of the same filters (Jira's queues, Zendesk's views).
QUEUE_TABS = {
    "open": ("All open", {"open": "true"}),
    "mine": ("Mine", {"open": "true", "assignee": "me"}),
    "unassigned": ("Unassigned", {"open": "true", "assignee": "none"}),
    "waiting": ("Waiting on requester", {"status": [Status.WAITING]}),
    "at_risk": ("At risk", {"open": "true", "at_risk": "true"}),
    "breached": ("Breached", {"open": "true", "breached": "true"}),
}

# The requester's side of the same handoffs (the outgoing queue's "My requests" and the
# dashboard's panel): what is still under way or back with us, narrowed four ways.
AWAITING_REQUESTER = [*OPEN_STATUSES, Status.RESOLVED]
REQUEST_VIEWS = {
    "mine": ("Mine", {"filed_by": "me", "status": AWAITING_REQUESTER}),
    "team": ("My team's", {"status": AWAITING_REQUESTER}),
    "waiting": ("Waiting on us", {"status": [Status.WAITING]}),
    "confirm": (
        "Resolved, awaiting my confirmation",
        {"filed_by": "me", "status": [Status.RESOLVED]},
    ),
}
