"""The unread badge on the navigation bell: one COUNT query for a signed-in user."""

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from . import selectors


def unread(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # Lazy: pages that never show the bell (the admin, htmx partials) pay no query.
    return {"unread_notifications": SimpleLazyObject(lambda: selectors.unread_count(user=user))}
