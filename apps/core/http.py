"""Small helpers for the pages' POST views."""

from __future__ import annotations

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, default: str, *, field: str = "next") -> str:
    """Where to go back to after a POST: the form's `next` when it is a path on this site,
    else `default`.

    Only a path (`/…`): `redirect()` takes anything without a slash or a dot for the name
    of a URL pattern, so `next=x` would be a NoReverseMatch (a 500), and anything with a
    host (`//evil.example`, `https://…`) is no place to send people."""
    target = request.POST.get(field) or request.GET.get(field) or ""
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return default
