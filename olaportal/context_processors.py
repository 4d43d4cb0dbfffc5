"""Template context shared by every page: the navigation, and the addresses base.html
links to.

It names pages of every app, so it lives at the project level, above all of them
(`apps.core` sits below every app and must not know their URLs).
"""

from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse

NAV = [
    ("Dashboard", "dashboard", "speedometer2"),
    ("Queues", "queues:index", "inboxes"),
    ("Agreements", "agreements:list", "file-earmark-text"),
    ("Reviews", "reviews:index", "clipboard-check"),
    ("Reports", "reports:index", "graph-up"),
    ("Teams", "teams:list", "people"),
]
# The other pages base.html links to, by the names it uses.
SITE = {
    "dashboard": "dashboard",
    "bell": "notifications:bell",
    "profile": "accounts:profile",
    "api_docs": "api-docs",
    "logout": "accounts:logout",
}

# (URLconf, script prefix) -> the navigation's addresses and base.html's. Reversed once per
# process: a dozen reversals were a tenth of a page's template time, and they never change
# while the URLconf and the prefix stay the same.
_reversed: dict[tuple, tuple[list[tuple[str, str, str]], dict[str, str]]] = {}


def _addresses() -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    key = (get_urlconf(), get_script_prefix())
    if key not in _reversed:
        _reversed[key] = (
            [(label, reverse(name), icon) for label, name, icon in NAV],
            {key: reverse(name) for key, name in SITE.items()},
        )
    return _reversed[key]


def navigation(request: HttpRequest) -> dict:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    path = request.path
    items, site = _addresses()
    nav = []
    for label, url, icon in items:
        active = path == url if url == "/" else path.startswith(url)
        nav.append({"label": label, "url": url, "icon": icon, "active": active})
    return {"nav_items": nav, "site_urls": site}
