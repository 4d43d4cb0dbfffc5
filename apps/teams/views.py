from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from . import selectors
from .models import Role


@require_GET
def team_list(request):
    teams = selectors.team_list(user=request.user)
    my_team_ids = set(request.user.memberships.values_list("team_id", flat=True))
    return render(request, "teams/team_list.html", {"teams": teams, "my_team_ids": my_team_ids})


@require_GET
def team_detail(request, slug: str):
    team = selectors.team_get(user=request.user, slug=slug)
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
            "now": now,
        },
    )
