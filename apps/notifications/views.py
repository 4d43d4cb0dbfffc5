"""The inbox of in-app notifications, opening and marking them read, the navigation bell,
and the preferences of a person and of the teams they lead.

State changes are small POST views calling one service; from the inbox they are htmx
requests answered with the re-rendered row (and an event that refreshes the bell), and
without htmx they redirect back. Opening a notification is a plain link: it marks the
entry read and goes where the notification points.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.http import safe_next
from apps.teams.models import Team

from . import selectors, services
from .filters import NotificationFilter
from .forms import PreferencesForm, TeamChannelForm
from .templatetags.notification_tags import bell_markup

PER_PAGE = 25
# Tells the bell (templates/base.html) to ask for its count again at once.
CHANGED_EVENT = "notifications-changed"
# htmx stops polling when a poll is answered with this status (a signed-out page).
STOP_POLLING = 286


@require_GET
def inbox(request):
    filters = NotificationFilter(request.GET or None, queryset=selectors.inbox(user=request.user))
    page = Paginator(filters.qs, PER_PAGE).get_page(request.GET.get("page"))
    kept = {k: v for k, v in request.GET.items() if k in ("kind", "unread") and v}
    return render(
        request,
        "notifications/inbox.html",
        {"page": page, "filters": filters, "querystring": urlencode(kept)},
    )


def _back(request):
    return redirect(safe_next(request, reverse("notifications:inbox")))


def safe_target(url: str) -> str | None:
    """Where opening a notification may lead: a path on this site, or an address under
    SITE_URL (taken as its path, so the reader stays on the host they use); None for
    anything else."""
    site = settings.SITE_URL.rstrip("/")
    if site and url.startswith(f"{site}/"):
        url = url[len(site) :]
    if (
        url.startswith("/")
        and not url.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(url, allowed_hosts=None)
        and not urlsplit(url).netloc
    ):
        return url
    return None


@require_GET
def open_notification(request, pk: int):
    """Mark the entry read and go where it points (the inbox when it points nowhere safe)."""
    notification = get_object_or_404(selectors.inbox_row(user=request.user), pk=pk)
    services.notification_mark_read(notification=notification, now=timezone.now())
    return redirect(safe_target(notification.url) or reverse("notifications:inbox"))


@require_POST
def mark_read(request, pk: int):
    notification = get_object_or_404(selectors.inbox(user=request.user), pk=pk)
    services.notification_mark_read(notification=notification, now=timezone.now())
    if request.htmx:
        response = render(request, "notifications/_row.html", {"notification": notification})
        response["HX-Trigger"] = CHANGED_EVENT
        return response
    return _back(request)


@require_POST
def mark_all_read(request):
    count = services.notification_mark_all_read(user=request.user, now=timezone.now())
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return _back(request)


@login_not_required
@require_GET
def bell(request):
    """The navigation bell with its unread count, polled by every page (base.html)."""
    if not request.user.is_authenticated:
        return HttpResponse(status=STOP_POLLING)
    path = request.htmx.current_url_abs_path if request.htmx else None
    return HttpResponse(bell_markup(path or "", selectors.unread_count(user=request.user)))


@require_http_methods(["GET", "POST"])
def preferences(request):
    form = PreferencesForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.preferences_update(user=request.user, enabled=form.enabled())
        messages.success(request, "Notification preferences saved.")
        return redirect("notifications:preferences")
    teams = [
        {"team": team, "grid": selectors.team_channel_grid(team=team)}
        for team in selectors.channel_teams(user=request.user)
    ]
    return render(
        request,
        "notifications/preferences.html",
        {"grid": selectors.preference_grid(user=request.user), "form": form, "teams": teams},
    )


@require_POST
def team_preferences(request, slug: str):
    """A team's webhook kinds; its leads (and staff) only — others are refused (403)."""
    team = get_object_or_404(Team.objects.visible_to(request.user), slug=slug)
    form = TeamChannelForm(request.POST)
    if form.is_valid():
        services.team_channel_preferences_update(
            team=team, actor=request.user, enabled=form.enabled()
        )
        messages.success(request, f"{team.name}'s channel preferences saved.")
    return redirect("notifications:preferences")
