from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from apps.core.api import ServiceActionMixin

from . import services
from .filters import TeamFilter
from .models import Membership, Team


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    name = serializers.CharField(source="user.display_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "username", "name", "role"]


class TeamSerializer(serializers.ModelSerializer):
    memberships = MembershipSerializer(many=True, read_only=True)
    # The escalation path beyond the leads (set by staff in the admin).
    manager_username = serializers.CharField(
        source="manager.username", read_only=True, allow_null=True, default=None
    )
    director_username = serializers.CharField(
        source="director.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Team
        fields = [
            "id",
            "name",
            "slug",
            "email",
            "description",
            "calendar",
            "manager",
            "manager_username",
            "director",
            "director_username",
            "memberships",
        ]
        read_only_fields = ["manager", "director"]


class TeamSettingsInput(serializers.Serializer):
    """What a team's leads set themselves. An omitted field is kept, "" clears it."""

    webhook_url = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,  # the service trims, and says what is wrong with the rest
        max_length=Team._meta.get_field("webhook_url").max_length,
        help_text="Slack-compatible incoming webhook (https). Write-only: it is a secret. "
        "Addresses inside the network (loopback, link-local, private) are refused.",
    )
    email = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=Team._meta.get_field("email").max_length,
        help_text="Where team-wide notifications go.",
    )


@extend_schema_view(
    partial_update=extend_schema(
        summary="Set the team's webhook and email (a lead of the team, or staff)",
        request=TeamSettingsInput,
        responses={200: TeamSerializer},
    ),
)
class TeamViewSet(ServiceActionMixin, viewsets.ReadOnlyModelViewSet):
    """Teams and their members. A team's leads set its webhook and email (PATCH); the
    rest is administered in the admin."""

    serializer_class = TeamSerializer
    filterset_class = TeamFilter
    http_method_names = ["get", "patch", "head", "options"]

    def partial_update(self, request, *args, **kwargs):
        team = self.get_object()
        # Who may not is refused before the body is read, whatever it says.
        if not services.can_edit_settings(request.user, team):
            raise PermissionDenied("Only a lead of the team may change its settings.")
        data = self._input(TeamSettingsInput)
        services.team_update_settings(team=team, actor=request.user, **data)
        return self._respond(team)

    def get_queryset(self):
        return (
            Team.objects.visible_to(self.request.user)
            .select_related("manager", "director")
            .prefetch_related(
                Prefetch("memberships", queryset=Membership.objects.select_related("user"))
            )
            .order_by("name")
        )
