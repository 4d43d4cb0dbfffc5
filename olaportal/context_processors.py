"""Template context shared by every page: the navigation.

It names pages of every app, so it lives at the project level, above all of them
(`apps.core` sits below every app and must not know their URLs).
"""

from django.http import HttpRequest
from django.urls import reverse


def navigation(request: HttpRequest) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    path = request.path
    items = [
        ("Dashboard", reverse("dashboard"), "speedometer2"),
        ("Queues", reverse("queues:index"), "inboxes"),
        ("Agreements", reverse("agreements:list"), "file-earmark-text"),
        ("Reviews", reverse("reviews:index"), "clipboard-check"),
        ("Reports", reverse("reports:index"), "graph-up"),
        ("Teams", reverse("teams:list"), "people"),
    ]
    nav = []
    for label, url, icon in items:
        active = path == url if url == "/" else path.startswith(url)
        nav.append({"label": label, "url": url, "icon": icon, "active": active})
    return {"nav_items": nav}
