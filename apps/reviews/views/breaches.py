"""Breach pages: the breached clocks a provider team has still to review, and the breach
review form with its action items. A breached clock of a handoff the user may see, or a 404;
only the provider team's members write the review and add its actions."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.views import post_action
from apps.handoffs.models import Clock, Handoff
from apps.handoffs.selectors import ClockReader, windows_for

from .. import selectors, services
from ..forms import ActionItemForm, BreachReviewForm
from ..models import BreachReview
from ..presenters import duration, with_toggles
from .reviews import action_added


@require_GET
def breach_list(request):
    user = request.user
    teams = selectors.provider_teams(user)
    team = None
    if slug := request.GET.get("team"):
        team = get_object_or_404(teams, slug=slug)
    clocks = selectors.breaches_to_review(user=user, team=team).select_related(
        "handoff__provider_team", "handoff__requesting_team"
    )
    reviewed = (
        BreachReview.objects.visible_to(user)
        .filter(clock__handoff__provider_team__in=teams.values("pk"))
        .select_related("clock__handoff", "reviewed_by")
        .order_by("-created_at")
    )
    if team is not None:
        reviewed = reviewed.filter(clock__handoff__provider_team=team)
    return render(
        request,
        "reviews/breach_list.html",
        {
            "clocks": clocks,
            "reviewed": reviewed[:20],
            "team": team,
            "teams": teams.order_by("name"),
        },
    )


def _clock_get(user, clock_pk: int) -> Clock:
    """A breached clock of a handoff the user may see; anything else is a 404."""
    clock = get_object_or_404(
        Clock.objects.filter(
            handoff__in=Handoff.objects.visible_to(user).values("pk")
        ).select_related(
            "handoff__provider_team",
            "handoff__requesting_team",
            "handoff__agreement",
            "handoff__assignee",
        ),
        pk=clock_pk,
    )
    if clock.breached_at is None:
        raise Http404("This clock has not breached.")
    return clock


def _breach_review_of(clock: Clock) -> BreachReview | None:
    return BreachReview.objects.filter(clock=clock).select_related("reviewed_by").first()


def _consumed_now(clock: Clock) -> int:
    now = timezone.now()
    reader = ClockReader(now, windows_for([clock.handoff.provider_team_id], now))
    return reader.read(clock.handoff, clock).consumed


def _breach_page(request, clock: Clock, *, form=None, action_form=None, status=200):
    handoff = clock.handoff
    existing = _breach_review_of(clock)
    if form is None:
        initial = {}
        if existing is not None:
            initial = {
                "root_cause": existing.root_cause,
                "what_happened": existing.what_happened,
                "prevention": existing.prevention,
            }
        form = BreachReviewForm(initial=initial)
    teams = [handoff.provider_team, handoff.requesting_team]
    business = not clock.around_the_clock
    can_edit = services.can_review_breach(request.user, clock)
    items = []
    if existing is not None:
        items = with_toggles(
            existing.action_items.select_related("owner"), request.user, manage=can_edit
        )
    context = {
        "clock": clock,
        "handoff": handoff,
        "target": duration(clock.target_seconds, business=business),
        # Read live, as the handoff page reads it (a running clock's stored figure is only
        # what it had consumed when it last changed).
        "consumed": duration(_consumed_now(clock), business=business),
        "existing": existing,
        "can_edit": can_edit,
        "form": form,
        "action_items": items,
        "action_form": action_form or ActionItemForm(teams=teams),
        "today": timezone.localdate(),
    }
    return render(request, "reviews/breach_review.html", context, status=status)


@require_http_methods(["GET", "POST"])
def breach_review(request, clock_pk: int):
    user = request.user
    clock = _clock_get(user, clock_pk)
    if request.method == "GET":
        return _breach_page(request, clock)
    if not services.can_review_breach(user, clock):
        raise PermissionDenied(
            f"Only members of {clock.handoff.provider_team} review its breaches."
        )
    form = BreachReviewForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.breach_review_save(
            clock=clock, actor=user, now=timezone.now(), **form.cleaned_data
        ),
        done=f"Breach review of #{clock.handoff_id} saved.",
        back=reverse("reviews:breach", kwargs={"clock_pk": clock.pk}),
        invalid=lambda form: _breach_page(request, clock, form=form, status=400),
        denied_as_message=True,
    )


@require_POST
def breach_action_add(request, clock_pk: int):
    user = request.user
    clock = _clock_get(user, clock_pk)
    existing = _breach_review_of(clock)
    if existing is None:
        messages.error(request, "Save the breach review first, then add its actions.")
        return redirect("reviews:breach", clock_pk=clock.pk)
    handoff = clock.handoff
    if not services.can_manage_action_items(user, breach_review=existing):
        raise PermissionDenied(f"Only members of {handoff.provider_team} add actions here.")
    form = ActionItemForm(request.POST, teams=[handoff.provider_team, handoff.requesting_team])
    return post_action(
        request,
        form=form,
        act=lambda: services.action_item_create(
            actor=user, breach_review=existing, now=timezone.now(), **form.cleaned_data
        ),
        done=action_added,
        back=reverse("reviews:breach", kwargs={"clock_pk": clock.pk}),
        then=f"{reverse('reviews:breach', args=[clock.pk])}#actions",
        invalid=lambda form: _breach_page(request, clock, action_form=form, status=400),
        denied_as_message=True,
    )
