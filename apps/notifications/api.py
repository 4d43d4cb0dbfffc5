"""The signed-in person's in-app notifications (reading them is the only change) and the
channel preferences: their own per kind, and the webhook kinds of the teams they lead."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.accounts.api import QuietHoursSerializer
from apps.core.api import ServiceActionMixin, error_responses
from apps.teams.models import Team

from . import selectors, services
from .filters import NotificationFilter
from .models import KIND_GROUPS, Channel, Kind, Notification


class FoldedSerializer(serializers.ModelSerializer):
    # Plain text here: the kinds' enum belongs to Notification's schema alone (one
    # component per choice set keeps its name stable).
    kind = serializers.CharField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "created_at"]


class NotificationSerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="absolute_url", read_only=True)
    updates = FoldedSerializer(
        source="coalesced",
        many=True,
        read_only=True,
        help_text="Notifications about the same subject folded into this one, oldest first.",
    )

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "title",
            "body",
            "url",
            "subject_type",
            "subject_id",
            "created_at",
            "read_at",
            "updates",
        ]


def _kinds_field(channel_label: str) -> serializers.DictField:
    return serializers.DictField(
        child=serializers.BooleanField(),
        required=False,
        help_text=f"kind → whether it goes {channel_label}; kinds left out keep their setting.",
    )


def _check_kinds(value: dict) -> dict:
    unknown = sorted(k for k in value if k not in Kind.values)
    if unknown:
        raise serializers.ValidationError(
            f"Unknown kind “{unknown[0][:50]}”; the kinds are {', '.join(Kind.values)}."
        )
    return value


class PreferencesInput(serializers.Serializer):
    email = _kinds_field("by email")
    in_app = _kinds_field("to the inbox (always on)")
    quiet_hours = QuietHoursSerializer(required=False)

    def validate_email(self, value):
        return _check_kinds(value)

    def validate_in_app(self, value):
        _check_kinds(value)
        if not all(value.values()):
            raise serializers.ValidationError("In-app notifications are always on.")
        return value


class TeamPreferencesInput(serializers.Serializer):
    webhook = _kinds_field("to the team's webhook")

    def validate_webhook(self, value):
        return _check_kinds(value)


PREFERENCE_ROW = inline_serializer(
    "NotificationPreferenceRow",
    {
        "kind": serializers.CharField(
            help_text="A notification kind (see `kind` of a notification)."
        ),
        "label": serializers.CharField(),
        "group": serializers.CharField(),
        "in_app": serializers.BooleanField(),
        "email": serializers.BooleanField(),
    },
    many=True,
)
PREFERENCES = inline_serializer(
    "NotificationPreferences",
    {"kinds": PREFERENCE_ROW, "quiet_hours": QuietHoursSerializer()},
)
TEAM_PREFERENCES = inline_serializer(
    "TeamChannelPreferences",
    {
        "team": serializers.CharField(),
        "has_webhook": serializers.BooleanField(),
        "kinds": inline_serializer(
            "TeamChannelPreferenceRow",
            {
                "kind": serializers.CharField(
                    help_text="A notification kind (see `kind` of a notification)."
                ),
                "label": serializers.CharField(),
                "group": serializers.CharField(),
                "webhook": serializers.BooleanField(),
            },
            many=True,
        ),
    },
)
ERRORS = error_responses(
    invalid="An unknown kind, a value that is not true or false, or in-app switched off.",
    forbidden="Only the team's leads (and staff) choose what its webhook hears.",
    conflict="Not used.",
    not_found="No such team.",
)


def _personal(user) -> dict:
    cells = {
        row["kind"].value: {cell["channel"].value: cell["enabled"] for cell in row["cells"]}
        for group in selectors.preference_grid(user=user)
        for row in group["rows"]
    }
    return {
        "quiet_hours": QuietHoursSerializer(user).data,
        "kinds": [
            {
                "kind": kind.value,
                "label": kind.label,
                "group": group,
                "in_app": cells[kind.value][Channel.IN_APP],
                "email": cells[kind.value][Channel.EMAIL],
            }
            for group, kinds in KIND_GROUPS
            for kind in kinds
        ],
    }


def _team(team) -> dict:
    choices = selectors.team_channel_choices(team=team)
    return {
        "team": team.slug,
        "has_webhook": bool(team.webhook_url),
        "kinds": [
            {
                "kind": kind.value,
                "label": kind.label,
                "group": group,
                "webhook": choices[kind.value],
            }
            for group, kinds in KIND_GROUPS
            for kind in kinds
        ],
    }


class NotificationViewSet(ServiceActionMixin, viewsets.ReadOnlyModelViewSet):
    """Your inbox, newest first: one entry per subject and minute, with what was folded
    into it under `updates`. `?unread=true` for the unread ones, `?kind=` for one kind."""

    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter

    def get_queryset(self):
        return selectors.inbox(user=self.request.user)

    @extend_schema(request=None, responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = services.notification_mark_read(
            notification=self.get_object(), now=timezone.now()
        )
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        request=None,
        responses=inline_serializer("MarkAllRead", {"marked": serializers.IntegerField()}),
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        marked = services.notification_mark_all_read(user=request.user, now=timezone.now())
        return Response({"marked": marked})

    @extend_schema(
        methods=["GET"], request=None, responses=PREFERENCES, filters=False, parameters=[]
    )
    @extend_schema(
        methods=["PATCH"],
        request=PreferencesInput,
        responses={200: PREFERENCES, 400: ERRORS[400]},
    )
    @action(
        detail=False,
        methods=["get", "patch"],
        url_path="preferences",
        filterset_class=None,
        pagination_class=None,
    )
    def preferences(self, request):
        """Which kinds reach you by email (in-app is always on), and your quiet hours.
        PATCH `{"email": {"warning": true}}` changes the kinds named;
        `{"quiet_hours": {"enabled": true, "work_starts": "08:00", "work_ends": "16:30"}}`
        holds non-urgent email outside those hours (Monday to Friday, your time zone)."""
        if request.method == "PATCH":
            data = self._input(PreferencesInput)
            services.preferences_change(
                user=request.user,
                changes={
                    (kind, Channel.EMAIL.value): on for kind, on in data.get("email", {}).items()
                },
                quiet_hours=data.get("quiet_hours"),
            )
        return Response(_personal(request.user))

    @extend_schema(
        methods=["GET"], request=None, responses={200: TEAM_PREFERENCES, 404: ERRORS[404]}
    )
    @extend_schema(
        methods=["PATCH"],
        request=TeamPreferencesInput,
        responses={200: TEAM_PREFERENCES, 400: ERRORS[400], 403: ERRORS[403], 404: ERRORS[404]},
    )
    @action(
        detail=False,
        methods=["get", "patch"],
        url_path=r"preferences/teams/(?P<slug>[-a-zA-Z0-9_]{1,60})",
        url_name="team-preferences",
        filterset_class=None,
        pagination_class=None,
    )
    def team_preferences(self, request, slug=None):
        """Which kinds go to a team's webhook; its leads and staff change them with PATCH
        `{"webhook": {"comment": true}}`."""
        team = get_object_or_404(Team.objects.visible_to(request.user), slug=slug)
        if request.method == "PATCH":
            if not services.may_set_team_channel(request.user, team):
                raise PermissionDenied("Only the team's leads choose what its webhook hears.")
            data = self._input(TeamPreferencesInput)
            services.team_channel_preferences_change(
                team=team, actor=request.user, changes=data.get("webhook", {})
            )
        return Response(_team(team))
