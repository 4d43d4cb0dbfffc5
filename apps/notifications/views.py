"""The inbox of in-app notifications, marking them read, and per-person preferences.

State changes are small POST views calling one service; from the inbox they are htmx
requests answered with the re-rendered row, and without htmx they redirect back.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.core.http import safe_next

from . import selectors, services
from .forms import PreferencesForm

PER_PAGE = 25


@require_GET
def inbox(request):
    page = Paginator(selectors.inbox(user=request.user), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "notifications/inbox.html", {"page": page})


def _back(request):
    return redirect(safe_next(request, reverse("notifications:inbox")))


@require_POST
def mark_read(request, pk: int):
    notification = get_object_or_404(selectors.inbox(user=request.user), pk=pk)
    services.notification_mark_read(notification=notification, now=timezone.now())
    if request.htmx:
        return render(
            request,
            "notifications/_row.html",
            {"notification": notification},
        )
    return _back(request)


@require_POST
def mark_all_read(request):
    count = services.notification_mark_all_read(user=request.user, now=timezone.now())
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return _back(request)


@require_http_methods(["GET", "POST"])
def preferences(request):
    form = PreferencesForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.preferences_update(user=request.user, enabled=form.enabled())
        messages.success(request, "Notification preferences saved.")
        return redirect("notifications:preferences")
    grid = selectors.preference_grid(user=request.user)
    return render(request, "notifications/preferences.html", {"grid": grid, "form": form})
