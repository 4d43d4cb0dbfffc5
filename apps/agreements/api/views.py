"""The agreements API's viewsets: reads from `visible_to(user)`; every write is an input
serializer (`inputs.py`) followed by exactly one service call that checks the domain rules.
Service errors become HTTP answers in `apps.core.api`: ValidationError → 400,
PermissionDenied → 403, Conflict → 409.
"""

import django_filters
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action

from apps.core.api import ApiErrorSerializer, SafeJSONParser, ServiceActionMixin, error_responses
from apps.teams.models import Team

from .. import services
from ..filters import AgreementFilter
from ..models import Agreement, AgreementApproval, ExceptionWindow
from .inputs import (
    AgreementAmendInput,
    AgreementApproveInput,
    AgreementCreateInput,
    AgreementRequestChangesInput,
    AgreementRetireInput,
    AgreementSubmitInput,
    AgreementUpdateInput,
    ExceptionWindowApproveInput,
    ExceptionWindowEndInput,
    ExceptionWindowInput,
    ExceptionWindowRejectInput,
)
from .serializers import AgreementSerializer, ExceptionWindowSerializer

# --- agreements ----------------------------------------------------------------------------

ERRORS = error_responses(
    invalid="Field-keyed messages; nested parts by index: "
    '`{"targets": {"0": {"resolve_seconds": ["…"]}}}`.',
    forbidden="Not a lead of either team.",
    conflict="The version's status does not allow this.",
)


def _action_schema(request, summary, *, created=False):
    code = 201 if created else 200
    return extend_schema(
        summary=summary, request=request, responses={code: AgreementSerializer, **ERRORS}
    )


@extend_schema_view(
    list=extend_schema(summary="Agreement versions you may see"),
    retrieve=extend_schema(summary="One agreement version", responses={200: AgreementSerializer}),
    create=extend_schema(
        summary="Draft a new agreement (version 1)",
        request=AgreementCreateInput,
        responses={201: AgreementSerializer, **{k: ERRORS[k] for k in (400, 403)}},
    ),
    update=extend_schema(
        summary="Replace a draft's fields and the parts given",
        request=AgreementUpdateInput,
        responses={200: AgreementSerializer, **ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change some of a draft's fields; omitted parts are kept",
        request=AgreementUpdateInput,
        responses={200: AgreementSerializer, **ERRORS},
    ),
)
class AgreementViewSet(
    ServiceActionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Agreement versions. Drafts are written here; every other change is an action.
    Nothing is deleted: a version is retired."""

    serializer_class = AgreementSerializer
    filterset_class = AgreementFilter
    # Nested lists of parts only make sense as JSON.
    parser_classes = [SafeJSONParser]

    def get_queryset(self):
        visible = Agreement.objects.visible_to(self.request.user)
        if self.action not in ("list", "retrieve"):
            return visible  # a write: the service re-reads the row under a lock
        return self._with_parts(visible)

    @staticmethod
    def _with_parts(queryset):
        return (
            queryset.for_list()
            .select_related("created_by")
            .prefetch_related(
                "triage_fields",
                "escalation_steps",
                Prefetch(
                    "approvals", queryset=AgreementApproval.objects.select_related("team", "user")
                ),
            )
            .order_by("title", "-version", "pk")
        )

    def respond_queryset(self):
        return self._with_parts(Agreement.objects.visible_to(self.request.user))

    def _editable(self) -> Agreement:
        """The version to write, once the user may edit it (a lead of either team, or
        staff): who sees it but may not is refused (403) whatever the body says, as on the
        page; the body is read after. (The service asks again under its lock.)"""
        agreement = self.get_object()
        if not services.can_edit(self.request.user, agreement):
            raise PermissionDenied("Only a lead of the provider or requesting team may do that.")
        return agreement

    def create(self, request, *args, **kwargs):
        data = dict(self._input(AgreementCreateInput))
        agreement = services.agreement_create_draft(actor=request.user, **data)
        return self._respond(agreement, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        agreement = self._editable()
        data = self._input(AgreementUpdateInput, patch=kwargs.get("partial", False))
        agreement = services.agreement_update_draft(agreement=agreement, actor=request.user, **data)
        return self._respond(agreement)

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    @_action_schema(AgreementSubmitInput, "Submit a draft for both leads' approval")
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        agreement = self._editable()
        self._input(AgreementSubmitInput)
        return self._respond(services.agreement_submit(agreement=agreement, actor=request.user))

    @_action_schema(AgreementApproveInput, "Approve a version in review for the sides you lead")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        # Anyone signed in sees an active version: who leads neither team is refused
        # before the body is read. (The service asks again, and refuses staff.)
        agreement = self._editable()
        data = self._input(AgreementApproveInput)
        return self._respond(
            services.agreement_approve(
                agreement=agreement, actor=request.user, comment=data["comment"]
            )
        )

    @_action_schema(AgreementRequestChangesInput, "Send a version in review back to draft")
    @action(detail=True, methods=["post"], url_path="request-changes")
    def request_changes(self, request, pk=None):
        agreement = self._editable()
        data = self._input(AgreementRequestChangesInput)
        return self._respond(
            services.agreement_request_changes(
                agreement=agreement, actor=request.user, comment=data["comment"]
            )
        )

    @_action_schema(
        AgreementAmendInput,
        "Open the next version as a draft (returns the new draft)",
        created=True,
    )
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        agreement = self._editable()
        self._input(AgreementAmendInput)
        draft = services.agreement_amend(agreement=agreement, actor=request.user)
        return self._respond(draft, status.HTTP_201_CREATED)

    @_action_schema(AgreementRetireInput, "Retire a version (or withdraw a draft)")
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        agreement = self._editable()
        data = self._input(AgreementRetireInput)
        return self._respond(
            services.agreement_retire(
                agreement=agreement, actor=request.user, reason=data["reason"]
            )
        )


# --- exception windows ---------------------------------------------------------------------


class ExceptionWindowFilter(django_filters.FilterSet):
    # Only the API lists windows today; move this to filters.py once a page lists them too.
    provider_team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.all(), to_field_name="slug"
    )
    status = django_filters.MultipleChoiceFilter(choices=ExceptionWindow.Status.choices)

    class Meta:
        model = ExceptionWindow
        fields = ["provider_team", "status"]


WINDOW_ERRORS = {
    **ERRORS,
    403: OpenApiResponse(
        ApiErrorSerializer,
        description="Not a lead of the provider team, or approving one's own request.",
    ),
    409: OpenApiResponse(ApiErrorSerializer, description="Already decided."),
}
WINDOW_END_ERRORS = {
    **ERRORS,
    403: OpenApiResponse(
        ApiErrorSerializer,
        description="Neither its requester nor a lead of the provider team.",
    ),
    409: OpenApiResponse(ApiErrorSerializer, description="Refused, cancelled or over."),
}


@extend_schema_view(
    list=extend_schema(summary="Exception windows"),
    retrieve=extend_schema(summary="One exception window"),
    create=extend_schema(
        summary="Request an exception window (a provider-team member)",
        request=ExceptionWindowInput,
        responses={
            201: ExceptionWindowSerializer,
            400: ERRORS[400],
            403: OpenApiResponse(
                ApiErrorSerializer, description="Not a member of the provider team."
            ),
        },
    ),
)
class ExceptionWindowViewSet(
    ServiceActionMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Exception windows: relaxations during which clocks do not count. Requested by a
    member of the provider team, approved or rejected by one of its leads other than the
    requester (or staff); ended early by either, or by the requester."""

    serializer_class = ExceptionWindowSerializer
    filterset_class = ExceptionWindowFilter

    def get_queryset(self):
        return (
            ExceptionWindow.objects.visible_to(self.request.user)
            .select_related("provider_team", "requested_by", "decided_by", "ended_by")
            .order_by("-start", "-pk")
        )

    def _decidable(self) -> ExceptionWindow:
        """The window to decide, once the user may (a lead of its team, or staff): 403
        before the body is read."""
        window = self.get_object()
        if not services.can_decide_window(self.request.user, window):
            raise PermissionDenied("Only a lead of the provider team or staff may decide.")
        return window

    def create(self, request, *args, **kwargs):
        data = self._input(ExceptionWindowInput)
        window = services.exception_window_request(actor=request.user, **data)
        return self._respond(window, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Approve a requested window",
        request=ExceptionWindowApproveInput,
        responses={200: ExceptionWindowSerializer, **WINDOW_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        window = self._decidable()
        data = self._input(ExceptionWindowApproveInput)
        return self._respond(
            services.exception_window_approve(window=window, actor=request.user, note=data["note"])
        )

    @extend_schema(
        summary="Reject a requested window",
        request=ExceptionWindowRejectInput,
        responses={200: ExceptionWindowSerializer, **WINDOW_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        window = self._decidable()
        data = self._input(ExceptionWindowRejectInput)
        return self._respond(
            services.exception_window_reject(window=window, actor=request.user, note=data["note"])
        )

    @extend_schema(
        summary="End a window now (an approved window under way), or cancel it (one not "
        "started yet, or a request not decided)",
        request=ExceptionWindowEndInput,
        responses={200: ExceptionWindowSerializer, **WINDOW_END_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def end(self, request, pk=None):
        window = self.get_object()
        if not services.can_end_window(request.user, window):
            raise PermissionDenied(
                "Only whoever asked for the window, a lead of the provider team or staff may "
                "end it."
            )
        data = self._input(ExceptionWindowEndInput)
        return self._respond(
            services.exception_window_end(window=window, actor=request.user, note=data["note"])
        )
