"""Review pages: the list of reviews and the quarterly review a support operations lead
runs the business review from, with its action items (the breach pages are in
`breaches`; what the pages display is arranged in `apps.reviews.presenters`).

Reads start from `visible_to(user)` (anything else is a 404). Each state change is a small
POST view that validates a form and calls one service; the service's ValidationError goes
back onto the form as typed, a Conflict becomes a message and a redirect, and who sees the
review but may not act gets a 403 (PermissionDenied), as on every other page. The what-if
is an htmx POST that answers with a partial and changes nothing.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.core.http import safe_next
from apps.core.views import post_action
from apps.teams.models import Team

from .. import selectors, services
from ..forms import (
    ActionDoneForm,
    ActionItemForm,
    ReviewNotesForm,
    SignOffForm,
    TargetsForm,
)
from ..models import ActionItem, QuarterlyReview, ReviewStatus
from ..presenters import (
    STATUS_COLOURS,
    grid_rows,
    pack_context,
    period_in_words,
    rebased_of,
    recommendation_rows,
    sides_of,
    targets_form_for,
    teams_of,
    what_if_context,
    with_toggles,
)

SIGNABLE = (ReviewStatus.IN_PROGRESS, ReviewStatus.AWAITING_SIGN_OFF)
EDITABLE = (ReviewStatus.IN_PROGRESS, ReviewStatus.AWAITING_SIGN_OFF)


# --- the list of reviews -----------------------------------------------------------------


@require_GET
def review_index(request):
    user = request.user
    filterset = selectors.review_list(user=user, filters=request.GET, request=request)
    status = filterset.form.fields["status"]
    status.widget = forms.CheckboxSelectMultiple(
        choices=status.choices, attrs={"class": "form-check-input"}
    )
    reviews = list(filterset.qs)
    is_provider = selectors.provider_teams(user).exists()
    breaches = selectors.breaches_to_review(user=user).count() if is_provider else 0
    # Open reviews first, soonest due; then completed ones, most recent first.
    reviews.sort(key=lambda r: (not r.is_open, r.due_date.toordinal() * (1 if r.is_open else -1)))
    rows = []
    for review in reviews:
        signed = {s.team_id: s for s in review.sign_offs.all()}
        rows.append(
            {
                "review": review,
                "period": period_in_words(review.period_start, review.period_end),
                "colour": STATUS_COLOURS.get(review.status, "text-bg-secondary"),
                "overdue": review.is_open and review.due_date < timezone.localdate(),
                "sides": [
                    {"team": team, "signed": signed.get(team.pk)}
                    for team in (review.series.requesting_team, review.series.provider_team)
                ],
            }
        )
    return render(
        request,
        "reviews/review_list.html",
        {
            "filter": filterset,
            "rows": rows,
            "is_provider": is_provider,
            "breaches_to_review": breaches,
        },
    )


# --- the review --------------------------------------------------------------------------


def _review_get(user, pk: int) -> QuarterlyReview:
    return selectors.review_get(user=user, pk=pk)


def _detail_context(request, review: QuarterlyReview, **bound) -> dict:
    user = request.user
    can_edit = services.can_edit_review(user, review)
    editable = can_edit and review.status in EDITABLE
    sides_to_sign = services.sides_to_sign(user, review) if review.status in SIGNABLE else []
    targets_form = bound.get("targets_form") or targets_form_for(review)
    context = {
        "review": review,
        "agreement": review.agreement,
        "period": period_in_words(review.period_start, review.period_end),
        "status_colour": STATUS_COLOURS.get(review.status, "text-bg-secondary"),
        "overdue": review.is_open and review.due_date < timezone.localdate(),
        "can_edit": can_edit,
        "editable": editable,
        "can_start": can_edit and review.status == ReviewStatus.SCHEDULED,
        "sides": sides_of(review),
        "sides_to_sign": sides_to_sign,
        "pack": pack_context(review),
        "rebased": rebased_of(review),
        "period_over": services.review_period_over(
            review, now=timezone.now(), time_zone=review.agreement.calendar.time_zone
        ),
        "recommendations": recommendation_rows(review),
        "targets_form": targets_form,
        "grid_rows": grid_rows(targets_form, review),
        "notes_form": bound.get("notes_form")
        or ReviewNotesForm(initial={"findings": review.findings, "decisions": review.decisions}),
        "sign_off_form": bound.get("sign_off_form") or SignOffForm(),
        "action_form": bound.get("action_form") or ActionItemForm(teams=teams_of(review)),
        "action_items": with_toggles(review.action_items.all(), user, manage=can_edit),
        "can_add_actions": can_edit,
        "today": timezone.localdate(),
    }
    context.update(what_if_context(review, targets_form))
    return context


@require_GET
def review_detail(request, pk: int):
    review = _review_get(request.user, pk)
    return render(request, "reviews/review_detail.html", _detail_context(request, review))


def _may_edit_or_refuse(request, review: QuarterlyReview) -> None:
    """A 403 unless the user may edit the review."""
    if not services.can_edit_review(request.user, review):
        raise PermissionDenied("Only a lead of either team may edit this review.")


@require_POST
def review_start(request, pk: int):
    review = _review_get(request.user, pk)
    _may_edit_or_refuse(request, review)
    return post_action(
        request,
        act=lambda: services.review_start(review=review, actor=request.user, now=timezone.now()),
        done="Review started: the compliance pack and the recommendations are frozen.",
        back=review,
    )


def _detail_invalid(request, review: QuarterlyReview, name: str):
    """The review page re-rendered with the failed form `name` as typed (a 400)."""

    def render_with(form):
        context = _detail_context(request, review, **{name: form})
        return render(request, "reviews/review_detail.html", context, status=400)

    return render_with


@require_POST
def review_edit(request, pk: int):
    review = _review_get(request.user, pk)
    _may_edit_or_refuse(request, review)
    form = ReviewNotesForm(request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.review_update(
            review=review,
            actor=request.user,
            findings=form.cleaned_data["findings"],
            decisions=form.cleaned_data["decisions"],
            now=timezone.now(),
        ),
        done="Findings and decisions saved.",
        back=review,
        then=f"{review.get_absolute_url()}#notes",
        invalid=_detail_invalid(request, review, "notes_form"),
    )


def _put_target_errors(form: TargetsForm, exc: ValidationError) -> None:
    form.add_service_errors(exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages})


@require_POST
def review_targets(request, pk: int):
    review = _review_get(request.user, pk)
    _may_edit_or_refuse(request, review)
    form = targets_form_for(review, request.POST)
    return post_action(
        request,
        form=form,
        act=lambda: services.review_update(
            review=review,
            actor=request.user,
            proposed_targets=form.targets(),
            now=timezone.now(),
        ),
        done="Proposed targets saved.",
        back=review,
        then=f"{review.get_absolute_url()}#targets",
        invalid=_detail_invalid(request, review, "targets_form"),
        put=_put_target_errors,
    )


@require_POST
def review_what_if(request, pk: int):
    """The what-if partial: the typed targets replayed over the period. Reads only."""
    review = _review_get(request.user, pk)
    form = targets_form_for(review, request.POST)
    return render(request, "reviews/_what_if.html", what_if_context(review, form))


@require_POST
def review_sign_off(request, pk: int):
    review = _review_get(request.user, pk)
    form = SignOffForm(request.POST)
    sides: list[Team] = []

    def sign():
        sides.extend(services.sides_to_sign(request.user, review))
        return services.review_sign_off(
            review=review,
            actor=request.user,
            comment=form.cleaned_data["comment"],
            now=timezone.now(),
        )

    def signed(review: QuarterlyReview) -> str:
        names = " and ".join(str(t) for t in sides)
        text = f"Signed off for {names}." if names else "Signed off."
        if review.status == ReviewStatus.COMPLETED:
            text += " The review is complete."
            if review.resulting_agreement_id:
                text += (
                    f" Version {review.resulting_agreement.version} of the agreement is now "
                    "active with the agreed targets."
                )
        else:
            text += " Waiting for the other team's lead."
        return text

    return post_action(
        request,
        form=form,
        act=sign,
        done=signed,
        back=review,
        invalid=_detail_invalid(request, review, "sign_off_form"),
        # A refusal to sign (the grid no longer valid, say) is said above the page.
        errors_as_message=True,
    )


# --- action items ------------------------------------------------------------------------


def action_added(item: ActionItem) -> str:
    return f"Action “{item.title}” added for {item.owner.display_name}."


@require_POST
def action_add(request, pk: int):
    review = _review_get(request.user, pk)
    if not services.can_manage_action_items(request.user, review=review):
        raise PermissionDenied("Only a lead of either team may add action items to the review.")
    form = ActionItemForm(request.POST, teams=teams_of(review))
    return post_action(
        request,
        form=form,
        act=lambda: services.action_item_create(
            actor=request.user, review=review, now=timezone.now(), **form.cleaned_data
        ),
        done=action_added,
        back=review,
        then=f"{review.get_absolute_url()}#actions",
        invalid=_detail_invalid(request, review, "action_form"),
    )


@require_POST
def action_done(request, pk: int):
    item = get_object_or_404(
        ActionItem.objects.visible_to(request.user).select_related("review", "breach_review"),
        pk=pk,
    )
    back = (
        item.review.get_absolute_url()
        if item.review_id
        else reverse("reviews:breach", args=[item.breach_review.clock_id])
    )
    form = ActionDoneForm(request.POST)
    done = form.is_valid() and form.cleaned_data["done"]
    # No form to re-render: a Conflict or a ValidationError is a message; PermissionDenied a 403.
    return post_action(
        request,
        act=lambda: services.action_item_set_done(
            item=item, actor=request.user, done=done, now=timezone.now()
        ),
        done=f"“{item.title}” {'done' if done else 'reopened'}.",
        back=safe_next(request, f"{back}#actions"),
    )
