"""REST API of handoffs: the queue as JSON, filing a handoff, and one action per transition.

Reads start from `Handoff.objects.visible_to(user)` (STYLE rule 3), so a handoff another
team may not see answers 404. A handoff changes only through its actions (STYLE rule 13):
each checks the types of its body with its own small input serializer, then calls exactly
one service, which checks the domain rules. Service errors become HTTP answers in
`apps.core.api`: ValidationError → 400, PermissionDenied → 403, Conflict → 409.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.db.models.expressions import OrderBy
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import filters, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api import (
    SafeJSONParser,
    ServiceActionMixin,
    error_responses,
)

from . import actions, selectors, services, watchers
from .api_inputs import (
    HandoffAcknowledgeInput,
    HandoffActionPlanInput,
    HandoffAssignInput,
    HandoffCancelInput,
    HandoffCloseInput,
    HandoffCommentInput,
    HandoffCreateInput,
    HandoffPriorityInput,
    HandoffReopenInput,
    HandoffResolveInput,
    HandoffResumeInput,
    HandoffStartInput,
    HandoffWaitInput,
    HandoffWatchInput,
)
from .filters import HandoffFilter
from .models import Clock, Handoff, HandoffEvent, Watcher

# --- output ----------------------------------------------------------------------------------


class HandoffClockSerializer(serializers.ModelSerializer):
    class Meta:
        model = Clock
        fields = [
            "metric",
            "status",
            "target_seconds",
            "consumed_seconds",
            "due_at",
            "met_at",
            "breached_at",
        ]
        read_only_fields = fields


class HandoffSerializer(serializers.ModelSerializer):
    """A handoff with its clocks. `consumed_seconds` is the business time stored at the
    clock's last transition (a running clock has consumed more by now)."""

    provider_team_slug = serializers.CharField(source="provider_team.slug", read_only=True)
    requesting_team_slug = serializers.CharField(source="requesting_team.slug", read_only=True)
    assignee_name = serializers.CharField(
        source="assignee.display_name", read_only=True, allow_null=True, default=None
    )
    clocks = HandoffClockSerializer(many=True, read_only=True)

    class Meta:
        model = Handoff
        fields = [
            "id",
            "agreement",
            "status",
            "priority",
            "title",
            "description",
            "triage",
            "provider_team",
            "provider_team_slug",
            "requesting_team",
            "requesting_team_slug",
            "customer_segment",
            "impacted_customers",
            "assignee",
            "assignee_name",
            "created_by",
            "reopen_count",
            "due_at",
            "acknowledged_at",
            "resolved_at",
            "closed_at",
            "waiting_since",
            "created_at",
            "updated_at",
            "clocks",
        ]
        read_only_fields = fields


class HandoffWatcherSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="user.display_name", read_only=True)

    class Meta:
        model = Watcher
        fields = ["user", "name", "created_at"]
        read_only_fields = fields


class HandoffDetailSerializer(HandoffSerializer):
    """One handoff: as in the list, and who watches it (they hear of its changes)."""

    watchers = HandoffWatcherSerializer(many=True, read_only=True)

    class Meta(HandoffSerializer.Meta):
        fields = [*HandoffSerializer.Meta.fields, "watchers"]
        read_only_fields = fields


class HandoffEventSerializer(serializers.ModelSerializer):
    actor_name = serializers.CharField(
        source="actor.display_name",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="Empty for the system (sweeps, reminders).",
    )

    class Meta:
        model = HandoffEvent
        fields = ["id", "kind", "actor", "actor_name", "created_at", "comment", "before", "after"]
        read_only_fields = fields


# --- ordering --------------------------------------------------------------------------------


class HandoffOrdering(filters.OrderingFilter):
    """`?ordering=due_at|-due_at|created_at|-created_at`; soonest due first by default.
    Handoffs with no running deadline sort last either way, and ties keep a stable order
    so that pages never repeat or skip a row."""

    ORDERINGS = {
        "due_at": [F("due_at").asc(nulls_last=True), "created_at", "pk"],
        "-due_at": [F("due_at").desc(nulls_last=True), "-created_at", "-pk"],
        "created_at": ["created_at", "pk"],
        "-created_at": ["-created_at", "-pk"],
    }

    def filter_queryset(self, request, queryset, view):
        term = request.query_params.get(self.ordering_param, "").strip()
        ordering: list[str | OrderBy] = self.ORDERINGS.get(term, self.ORDERINGS["due_at"])
        return queryset.order_by(*ordering)

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Sort order; soonest due first by default.",
                "schema": {"type": "string", "enum": list(self.ORDERINGS)},
            }
        ]


# --- the viewset -----------------------------------------------------------------------------

ERRORS = error_responses(
    invalid='Field-keyed messages, e.g. `{"triage": {"steps": ["…"]}}`.',
    forbidden="Your team may not do this on this handoff.",
    conflict="The handoff's status does not allow this (or someone got there first).",
)


def _action_schema(request, summary, *, response=HandoffDetailSerializer, code=200):
    return extend_schema(summary=summary, request=request, responses={code: response, **ERRORS})


@extend_schema_view(
    list=extend_schema(summary="Handoffs you may see, soonest due first"),
    retrieve=extend_schema(
        summary="One handoff with its clocks",
        responses={200: HandoffDetailSerializer, 404: ERRORS[404]},
    ),
    create=extend_schema(
        summary="File a handoff under an active agreement (requesting-team members)",
        request=HandoffCreateInput,
        responses={201: HandoffDetailSerializer, 400: ERRORS[400], 403: ERRORS[403]},
    ),
)
class HandoffViewSet(
    ServiceActionMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Handoffs between teams. Filed with POST; every later change is an action (there is
    no PUT, PATCH or DELETE), and each action goes through the same service as the page."""

    serializer_class = HandoffSerializer
    filterset_class = HandoffFilter
    filter_backends = [DjangoFilterBackend, HandoffOrdering]
    # Triage answers are a JSON object: form encodings cannot carry it.
    parser_classes = [SafeJSONParser]

    def get_queryset(self):
        visible = Handoff.objects.visible_to(self.request.user)
        if self.action not in ("list", "retrieve"):
            return visible  # an action: the service re-reads the row under a lock
        return self._shaped(visible, detail=self.action == "retrieve")

    def get_serializer_class(self):
        return HandoffSerializer if self.action == "list" else HandoffDetailSerializer

    def filter_queryset(self, queryset):
        # The query string filters and orders the list only: a detail URL or an action
        # finds its handoff whatever `?status=…` says.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    @staticmethod
    def _shaped(queryset, *, detail: bool = True):
        queryset = queryset.for_api()
        return queryset.prefetch_related("watchers__user") if detail else queryset

    def _acting(self, action: str) -> Handoff:
        """The handoff of an action, once the user may take it: who sees the handoff but is
        on a side that may not act is refused (403) whatever the body says, as on the page;
        the body is read after. (The service asks again under its lock.)"""
        handoff = self.get_object()
        if not services.may(self.request.user, handoff, action):
            raise PermissionDenied("You are not on a team that may do that on this handoff.")
        return handoff

    def respond_queryset(self):
        return self._shaped(Handoff.objects.visible_to(self.request.user))

    def create(self, request, *args, **kwargs):
        data = self._input(HandoffCreateInput)
        handoff = services.handoff_create(actor=request.user, **data)
        return self._respond(handoff, status.HTTP_201_CREATED)

    @_action_schema(HandoffAssignInput, actions.ACTIONS["assign"].summary)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        handoff = self._acting("assign")
        data = self._input(HandoffAssignInput)
        if data["claim"]:
            handoff = services.handoff_claim(handoff=handoff, actor=request.user)
        else:
            handoff = services.handoff_assign(
                handoff=handoff, actor=request.user, assignee=data["assignee"]
            )
        return self._respond(handoff)

    @_action_schema(
        HandoffCommentInput,
        actions.ACTIONS["comment"].summary,
        response=HandoffEventSerializer,
        code=201,
    )
    @action(detail=True, methods=["post"])
    def comment(self, request, pk=None):
        handoff = self._acting("comment")
        data = self._input(HandoffCommentInput)
        event = services.handoff_comment(
            handoff=handoff, actor=request.user, comment=data["comment"]
        )
        event = HandoffEvent.objects.select_related("actor").get(pk=event.pk)
        return Response(
            HandoffEventSerializer(event, context=self.get_serializer_context()).data,
            status.HTTP_201_CREATED,
        )

    @_action_schema(HandoffWatchInput, "Watch the handoff: hear of its changes")
    @action(detail=True, methods=["post"])
    def watch(self, request, pk=None):
        handoff = self.get_object()
        watchers.handoff_watch(handoff=handoff, actor=request.user)
        return self._respond(handoff)

    @_action_schema(HandoffWatchInput, "Stop watching the handoff")
    @action(detail=True, methods=["post"])
    def unwatch(self, request, pk=None):
        handoff = self.get_object()
        watchers.handoff_unwatch(handoff=handoff, actor=request.user)
        return self._respond(handoff)

    @extend_schema(
        summary="The timeline, oldest first",
        request=None,
        responses={200: HandoffEventSerializer(many=True), 404: ERRORS[404]},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def events(self, request, pk=None):
        handoff = self.get_object()
        page = self.paginate_queryset(selectors.timeline(handoff=handoff))
        data = HandoffEventSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)


# The other actions of the table (apps.handoffs.actions), each the same few lines: check
# who may act, read the body with its own input serializer, call the one service with it.
# (Assign, which also claims, and comment, which answers with the event, are above.)
INPUTS = {
    "acknowledge": HandoffAcknowledgeInput,
    "start": HandoffStartInput,
    "action_plan": HandoffActionPlanInput,
    "wait": HandoffWaitInput,
    "resume": HandoffResumeInput,
    "resolve": HandoffResolveInput,
    "close": HandoffCloseInput,
    "reopen": HandoffReopenInput,
    "cancel": HandoffCancelInput,
    "priority": HandoffPriorityInput,
}


def _service_action(name: str):
    spec, body = actions.ACTIONS[name], INPUTS[name]

    def act(self, request, pk=None):
        handoff = self._acting(spec.permission)
        data = self._input(body)
        return self._respond(spec.service(handoff=handoff, actor=request.user, **data))

    act.__name__ = name
    act.__doc__ = spec.summary
    return _action_schema(body, spec.summary)(
        action(detail=True, methods=["post"], url_path=spec.slug)(act)
    )


for _name in INPUTS:
    setattr(HandoffViewSet, _name, _service_action(_name))
