"""Exception window pages: the list, a request, and the approve / reject / end actions.
Each state change is a small POST view calling one service."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.exceptions import Conflict
from apps.core.http import safe_next
from apps.teams.models import Team

from .. import services
from ..forms import DecisionForm, ExceptionWindowForm
from ..models import ExceptionWindow


@require_GET
def window_list(request):
    user = request.user
    windows = ExceptionWindow.objects.visible_to(user).for_list()
    if not user.is_staff:
        windows = windows.filter(provider_team__in=Team.objects.of_member(user).values("pk"))
    led = set(Team.objects.led_by(user).values_list("pk", flat=True))
    now = timezone.now()
    status = ExceptionWindow.Status
    rows = []
    for window in windows.order_by("-start"):
        # The rules of services.can_*_window, without a query per row.
        decides = user.is_staff or window.provider_team_id in led
        mine = window.requested_by_id == user.pk
        requested = window.status == status.REQUESTED
        window.can_decide = requested and decides
        window.can_approve = window.can_decide and (user.is_staff or not mine)
        window.can_end = (
            window.status in (status.REQUESTED, status.APPROVED)
            and window.end > now
            and (decides or mine)
        )
        window.end_label = (
            "End now"
            if window.status == status.APPROVED and window.start < now
            else "Cancel"
            if window.status == status.APPROVED
            else "Withdraw"
        )
        rows.append(window)
    return render(
        request,
        "agreements/window_list.html",
        {
            "windows": rows,
            "decision_form": DecisionForm(),
            "can_request": bool(rows) or user.is_staff or Team.objects.of_member(user).exists(),
        },
    )


@require_http_methods(["GET", "POST"])
def window_new(request):
    user = request.user
    team = None
    if slug := request.GET.get("team"):
        team = get_object_or_404(Team.objects.visible_to(user), slug=slug)
    if not (user.is_staff or Team.objects.of_member(user).exists()):
        raise PermissionDenied("Only a member of a provider team may request a window.")
    if request.method == "POST":
        form = ExceptionWindowForm(request.POST, user=user, team=team)
        if form.is_valid():
            data = form.cleaned_data
            try:
                window = services.exception_window_request(
                    actor=user,
                    provider_team=data["provider_team"],
                    start=data["start"],
                    end=data["end"],
                    reason=data["reason"],
                    affected_customers=data["affected_customers"],
                    communication_plan=data["communication_plan"],
                    series=data["series"],
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(
                    request,
                    f"Exception window requested for {window.provider_team}; "
                    "another lead of the team (or staff) decides on it.",
                )
                return redirect(safe_next(request, reverse("agreements:windows")))
    else:
        initial = {}
        if series_id := request.GET.get("series"):
            initial["series"] = series_id
        form = ExceptionWindowForm(user=user, team=team, initial=initial)
        if (
            team is not None
            and not form.fields["provider_team"].queryset.filter(pk=team.pk).exists()
        ):
            raise PermissionDenied("Only a member of the provider team may request a window.")
    return render(
        request,
        "agreements/window_form.html",
        {
            "form": form,
            "team": team,
            "next": safe_next(request, ""),
            "max_backdate": settings.EXCEPTION_WINDOW_MAX_BACKDATE,
            "max_length": settings.EXCEPTION_WINDOW_MAX_LENGTH,
        },
    )


def _window_action(request, pk: int, service, verb: str):
    """Run one window service on a visible window; refusals become messages (a 403 for
    who may not act at all)."""
    window = get_object_or_404(ExceptionWindow.objects.visible_to(request.user), pk=pk)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        window = service(window=window, actor=request.user, note=note)
    except Conflict as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Exception window for {window.provider_team} {verb(window)}.")
    return redirect(safe_next(request, reverse("agreements:windows")))


@require_POST
def window_approve(request, pk: int):
    return _window_action(request, pk, services.exception_window_approve, lambda w: "approved")


@require_POST
def window_reject(request, pk: int):
    return _window_action(request, pk, services.exception_window_reject, lambda w: "rejected")


@require_POST
def window_end(request, pk: int):
    def verb(window: ExceptionWindow) -> str:
        if window.status == ExceptionWindow.Status.CANCELLED:
            return "cancelled"
        return "ended now: clocks count again from this moment"

    return _window_action(request, pk, services.exception_window_end, verb)
