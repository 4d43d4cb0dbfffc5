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

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "email", "description", "calendar", "memberships"]


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    """Teams and their members. Read-only: teams are administered in the admin."""

    serializer_class = TeamSerializer
    filterset_class = TeamFilter

    def get_queryset(self):
        return (
            Team.objects.visible_to(self.request.user)
            .prefetch_related(
                Prefetch("memberships", queryset=Membership.objects.select_related("user"))
            )
            .order_by("name")
        )
