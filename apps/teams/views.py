from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services
from .forms import TeamSettingsForm
from .models import Role


@require_GET
def team_list(request):
    teams = selectors.team_list(user=request.user)
    my_team_ids = set(request.user.memberships.values_list("team_id", flat=True))
    return render(request, "teams/team_list.html", {"teams": teams, "my_team_ids": my_team_ids})


@require_GET
def team_detail(request, slug: str):
    team = selectors.team_get(user=request.user, slug=slug)
    return _detail_page(request, team)


def _detail_page(request, team, *, settings_form=None, status=200):
    memberships = list(team.memberships.all())
    now = timezone.now()
    calendar = team.calendar
    is_lead = any(m.user_id == request.user.id and m.role == Role.LEAD for m in memberships)
    return render(
        request,
        "teams/team_detail.html",
        {
            "team": team,
            "leads": [m for m in memberships if m.role == Role.LEAD],
            "members": [m for m in memberships if m.role == Role.MEMBER],
            "calendar": calendar,
            "periods": calendar.open_periods(now, days=7),
            "upcoming_holidays": [h for h in calendar.holidays.all() if h.date >= now.date()][:5],
            "can_edit_calendar": is_lead or request.user.is_staff,
            "settings_form": (
                (settings_form or TeamSettingsForm.for_team(team))
                if is_lead or request.user.is_staff
                else None
            ),
            "now": now,
        },
        status=status,
    )


@require_POST
def team_settings(request, slug: str):
    team = selectors.team_get(user=request.user, slug=slug)
    if not services.can_edit_settings(request.user, team):
        raise PermissionDenied("Only a lead of the team may change its settings.")
    form = TeamSettingsForm.for_team(team, request.POST)
    if form.is_valid():
        try:
            services.team_update_settings(team=team, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Settings of {team.name} saved.")
            return redirect(team)
    return _detail_page(request, team, settings_form=form, status=400)
