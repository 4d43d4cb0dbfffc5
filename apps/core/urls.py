"""URL reversal remembered per process for the addresses pages name on every request (a
handoff's teams, its agreement, itself): `reverse` is a function of the URLconf, the
script prefix and its arguments alone, and each reversal cost a page ~30 µs."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf
from django.urls import reverse as django_reverse


def reverse(viewname: str, **kwargs) -> str:
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    return _reverse(urlconf, get_script_prefix(), viewname, tuple(sorted(kwargs.items())))


@lru_cache(maxsize=10_000)
def _reverse(urlconf: str, prefix: str, viewname: str, kwargs: tuple) -> str:
    return django_reverse(viewname, urlconf=urlconf, kwargs=dict(kwargs))
