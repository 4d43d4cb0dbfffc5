"""The viewsets of the reviews API: quarterly reviews (pack, recommendations, what-if,
sign-off), breach reviews and their action items. What they answer is in `serializers`,
what they accept in `inputs`, the OpenAPI error answers in `schema`.

Reads start from `visible_to(user)` (STYLE rule 3): a review, breach review or action item
of teams you are not in answers 404. Each write checks the types of its body with its own
input serializer, then calls exactly one service, which checks the domain rules. Service
errors become HTTP answers in `apps.core.api`: ValidationError → 400 (dotted keys such as
`proposed_targets.P2.acknowledge` nested), PermissionDenied → 403, Conflict → 409.
Nothing is deleted (there is no DELETE): an action item is marked done, a review completes.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.agreements.targets import merge_targets
from apps.core.api import SafeJSONParser, ServiceActionMixin
from apps.handoffs.models import Clock, Handoff
from apps.teams.models import Team

from .. import pack, selectors, services, whatif
from ..filters import ActionItemFilter, BreachReviewFilter, QuarterlyReviewFilter
from ..models import ActionItem, BreachReview, QuarterlyReview, ReviewSignOff
from .inputs import (
    ActionItemCreateInput,
    ActionItemDoneInput,
    BreachReviewCreateInput,
    BreachReviewUpdateInput,
    ReviewSignOffInput,
    ReviewStartInput,
    ReviewUpdateInput,
    WhatIfInput,
)
from .schema import ERRORS
from .serializers import (
    ActionItemSerializer,
    BreachedClockSerializer,
    BreachReviewSerializer,
    QuarterlyReviewSerializer,
    QuarterlyReviewSummarySerializer,
    WhatIfSerializer,
)

NO_DELETE = ["get", "post", "patch", "head", "options"]


def _now():
    return timezone.now()


class _InputMixin(ServiceActionMixin):
    # Targets are JSON objects: form encodings cannot carry them.
    parser_classes = [SafeJSONParser]

    def filter_queryset(self, queryset):
        # The query string filters the list only: a detail URL or an action finds its row
        # whatever `?status=…` says.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)


# --- quarterly reviews -----------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Quarterly reviews you may see, latest due first"),
    retrieve=extend_schema(
        summary="One review: pack, recommendations, proposed targets, notes, sign-offs",
        responses={200: QuarterlyReviewSerializer, 404: ERRORS[404]},
    ),
    partial_update=extend_schema(
        summary="Write findings and decisions, or propose targets (a lead of either team)",
        request=ReviewUpdateInput,
        responses={200: QuarterlyReviewSerializer, **ERRORS},
    ),
)
class QuarterlyReviewViewSet(
    _InputMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Quarterly reviews of the agreements between your teams. Scheduled by the daily task;
    started, edited and signed off by both teams' leads. When both have signed and the
    targets changed, `resulting_agreement` is the new version now in force."""

    filterset_class = QuarterlyReviewFilter
    http_method_names = NO_DELETE

    def get_serializer_class(self):
        if self.action == "list":
            return QuarterlyReviewSummarySerializer
        return QuarterlyReviewSerializer

    def get_queryset(self):
        visible = QuarterlyReview.objects.visible_to(self.request.user)
        if self.action == "list":
            return self._summary(visible)
        if self.action == "retrieve":
            return self._full(visible)
        return visible  # a write: the service re-reads the row under a lock

    @staticmethod
    def _summary(queryset):
        return (
            queryset.select_related("agreement", "series__provider_team", "series__requesting_team")
            .defer("pack", "recommendations", "proposed_targets", "findings", "decisions")
            .prefetch_related(
                Prefetch("sign_offs", queryset=ReviewSignOff.objects.select_related("team", "user"))
            )
            .order_by("-due_date", "-pk")
        )

    @staticmethod
    def _full(queryset):
        return queryset.select_related(
            "agreement", "series__provider_team", "series__requesting_team"
        ).prefetch_related(
            Prefetch("sign_offs", queryset=ReviewSignOff.objects.select_related("team", "user")),
            Prefetch("action_items", queryset=ActionItem.objects.select_related("owner")),
        )

    def respond_queryset(self):
        # A write answers with the whole review, whatever shape the write read it in.
        return self._full(QuarterlyReview.objects.visible_to(self.request.user))

    def _editable(self) -> QuarterlyReview:
        """The review to write, once the user may (a lead of either team): who sees it but
        may not is refused (403) whatever the body says, as on the page; the body is read
        after. (The service asks again under its lock.)"""
        review = self.get_object()
        if not services.can_edit_review(self.request.user, review):
            raise PermissionDenied("Only a lead of either team may do that on this review.")
        return review

    def partial_update(self, request, *args, **kwargs):
        review = self._editable()
        data = self._input(ReviewUpdateInput)
        review = services.review_update(review=review, actor=request.user, now=_now(), **data)
        return self._respond(review)

    @extend_schema(
        summary="Start the review: freeze the compliance pack and recommendations (a lead)",
        request=ReviewStartInput,
        responses={200: QuarterlyReviewSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        review = self._editable()
        self._input(ReviewStartInput)
        return self._respond(services.review_start(review=review, actor=request.user, now=_now()))

    @extend_schema(
        summary="Sign off for the sides you lead; with both signed the review completes",
        request=ReviewSignOffInput,
        responses={200: QuarterlyReviewSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="sign-off")
    def sign_off(self, request, pk=None):
        review = self._editable()
        data = self._input(ReviewSignOffInput)
        return self._respond(
            services.review_sign_off(
                review=review, actor=request.user, comment=data["comment"], now=_now()
            )
        )

    @extend_schema(
        summary="Replay targets against the period's real handoffs (nothing is saved)",
        request=WhatIfInput,
        responses={200: WhatIfSerializer, **{k: ERRORS[k] for k in (400, 404)}},
    )
    @action(detail=True, methods=["post"], url_path="what-if")
    def what_if(self, request, pk=None):
        review = self.get_object()
        data = self._input(WhatIfInput)
        targets = _merged_targets(review, data.get("targets"))
        rows = whatif.replay(
            series=review.series,
            period_start=review.period_start,
            period_end=review.period_end,
            targets=targets,
        )
        body = {
            "period_start": review.period_start,
            "period_end": review.period_end,
            "targets": targets,
            "rows": rows,
        }
        return Response(WhatIfSerializer(body).data)


def _merged_targets(review: QuarterlyReview, given: dict | None) -> dict:
    """The targets to replay: the proposal (the current targets before the review starts),
    with what the client sent merged over it, so a client may send just the cells it is
    trying. Checked by the same rule as a proposal, keyed under `targets`."""
    base = review.proposed_targets or pack.targets_of(review.agreement)
    targets = merge_targets(base, given)
    priorities = [t.priority for t in review.agreement.targets.all()]
    return services.validate_targets(targets, priorities=priorities, prefix="targets")


# --- breach reviews --------------------------------------------------------------------------


def _breach_shape(queryset):
    return queryset.select_related(
        "reviewed_by",
        "clock__handoff__provider_team",
        "clock__handoff__requesting_team",
    ).prefetch_related(
        Prefetch("action_items", queryset=ActionItem.objects.select_related("owner"))
    )


@extend_schema_view(
    list=extend_schema(summary="Breach reviews you may see, newest first"),
    retrieve=extend_schema(
        summary="One breach review with its action items",
        responses={200: BreachReviewSerializer, 404: ERRORS[404]},
    ),
    create=extend_schema(
        summary="Review a breached clock (provider team); a clock already reviewed is updated",
        request=BreachReviewCreateInput,
        responses={
            201: BreachReviewSerializer,
            200: OpenApiResponse(
                BreachReviewSerializer, description="An existing review, updated."
            ),
            **{k: ERRORS[k] for k in (400, 403, 404)},
        },
    ),
    partial_update=extend_schema(
        summary="Change a breach review (provider team); omitted fields are kept",
        request=BreachReviewUpdateInput,
        responses={200: BreachReviewSerializer, **{k: ERRORS[k] for k in (400, 403, 404)}},
    ),
)
class BreachReviewViewSet(
    _InputMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Every breached clock needs a review: its root cause, what happened and what would
    have prevented it. Written by the provider team; read by both teams."""

    serializer_class = BreachReviewSerializer
    filterset_class = BreachReviewFilter
    http_method_names = NO_DELETE

    def get_queryset(self):
        return _breach_shape(BreachReview.objects.visible_to(self.request.user)).order_by(
            "-created_at", "-pk"
        )

    def _save(self, *, clock: Clock, root_cause, what_happened, prevention):
        return services.breach_review_save(
            clock=clock,
            actor=self.request.user,
            root_cause=root_cause,
            what_happened=what_happened,
            prevention=prevention,
            now=_now(),
        )

    def create(self, request, *args, **kwargs):
        data = self._input(BreachReviewCreateInput)
        # The clock is the resource being reviewed: one you may not see is not found (404),
        # exactly as its handoff's URL would answer.
        visible_handoffs = Handoff.objects.visible_to(request.user)
        clock = get_object_or_404(
            Clock.objects.filter(handoff__in=visible_handoffs).select_related("handoff"),
            pk=data["clock"],
        )
        if clock.breached_at is None:
            # In this body the clock is an input like any other: one that never breached is
            # a bad value for the field (the service would call it a conflict).
            raise serializers.ValidationError(
                {"clock": ["This clock has not breached; there is nothing to review."]}
            )
        existed = BreachReview.objects.filter(clock=clock).exists()
        review = self._save(
            clock=clock,
            root_cause=data["root_cause"],
            what_happened=data["what_happened"],
            prevention=data["prevention"],
        )
        return self._respond(review, status.HTTP_200_OK if existed else status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        review = self.get_object()
        # The requesting team reads the review but may not write it: 403 before the body.
        if not services.can_review_breach(request.user, review.clock):
            raise PermissionDenied("Only a member of the provider team may review this breach.")
        data = self._input(BreachReviewUpdateInput)
        review = self._save(
            clock=review.clock,
            root_cause=data.get("root_cause", review.root_cause),
            what_happened=data.get("what_happened", review.what_happened),
            prevention=data.get("prevention", review.prevention),
        )
        return self._respond(review)

    @extend_schema(
        summary="Breached clocks of your provider teams still waiting for a review",
        parameters=[
            OpenApiParameter(
                "team", OpenApiTypes.STR, description="Only this provider team (its slug)."
            )
        ],
        responses={200: BreachedClockSerializer(many=True)},
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="to-review",
        filter_backends=[],
        serializer_class=BreachedClockSerializer,
    )
    def to_review(self, request):
        slug = request.query_params.get("team", "").strip()
        team = Team.objects.filter(slug=slug).first() if slug else None
        if slug and team is None:
            clocks = Clock.objects.none()  # no such team: nothing to review
        else:
            clocks = selectors.breaches_to_review(user=request.user, team=team).select_related(
                "handoff__provider_team", "handoff__requesting_team"
            )
        page = self.paginate_queryset(clocks)
        data = BreachedClockSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)


# --- action items ----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="Action items you may see: open first, soonest due first"),
    retrieve=extend_schema(
        summary="One action item", responses={200: ActionItemSerializer, 404: ERRORS[404]}
    ),
    create=extend_schema(
        summary="Add an action item to a review or a breach review",
        request=ActionItemCreateInput,
        responses={201: ActionItemSerializer, **ERRORS},
    ),
)
class ActionItemViewSet(
    _InputMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Follow-ups of quarterly and breach reviews, each owned by one person."""

    serializer_class = ActionItemSerializer
    filterset_class = ActionItemFilter
    http_method_names = NO_DELETE

    def get_queryset(self):
        return (
            ActionItem.objects.visible_to(self.request.user)
            .select_related("owner")
            .order_by("done_at", "due_date", "pk")
        )

    def create(self, request, *args, **kwargs):
        data = self._input(ActionItemCreateInput)
        item = services.action_item_create(
            actor=request.user,
            title=data["title"],
            owner=data["owner"],
            due_date=data["due_date"],
            review=data.get("review"),
            breach_review=data.get("breach_review"),
            now=_now(),
        )
        return self._respond(item, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Mark done, or open again",
        request=ActionItemDoneInput,
        responses={200: ActionItemSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def done(self, request, pk=None):
        item = self.get_object()
        if not services.can_set_done(request.user, item):  # 403 before the body is read
            raise PermissionDenied("Only the owner or a lead of the review may change this item.")
        data = self._input(ActionItemDoneInput)
        item = services.action_item_set_done(
            item=item, actor=request.user, done=data["done"], now=_now()
        )
        return self._respond(item)
