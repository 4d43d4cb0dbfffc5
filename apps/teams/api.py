from django.db.models import Prefetch
from rest_framework import serializers, viewsets

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


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    """Teams and their members. Read-only: teams are administered in the admin."""

    serializer_class = TeamSerializer
    filterset_class = TeamFilter

    def get_queryset(self):
        return (
            Team.objects.visible_to(self.request.user)
            .select_related("manager", "director")
            .prefetch_related(
                Prefetch("memberships", queryset=Membership.objects.select_related("user"))
            )
            .order_by("name")
        )
