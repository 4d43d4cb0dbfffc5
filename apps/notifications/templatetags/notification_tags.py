"""The navigation bell, written in Python: every page shows it (templates/base.html) and
its poll answers with it (`views.bell`); as a template include it cost each page about
a quarter of a millisecond."""

from django import template
from django.utils.safestring import SafeString

from apps.core.html import format_html
from apps.core.urls import reverse

register = template.Library()

_BADGE = ' <span class="badge rounded-pill text-bg-danger" data-testid="unread-badge">{}</span>'


def bell_markup(path: str, unread: int) -> SafeString:
    """The bell's link: active on the inbox's pages, with the unread count when any."""
    return format_html(
        '<a class="nav-link{}" href="{}" aria-label="Notifications{}" '
        'data-testid="notifications-link"><i class="bi bi-bell"></i> Notifications{}</a>',
        " active" if path[:15] == "/notifications/" else "",
        reverse("notifications:inbox"),
        f", {unread} unread" if unread else "",
        format_html(_BADGE, unread) if unread else "",
    )


@register.simple_tag(takes_context=True)
def bell(context, path: str) -> SafeString:
    """The bell of the page at `path`, counted by the context's lazy count
    (`context_processors.unread`)."""
    return bell_markup(path, context.get("unread_notifications") or 0)
