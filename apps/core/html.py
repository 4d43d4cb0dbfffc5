"""Django's `format_html` and `format_html_join`, for markup built in Python on the busy
pages (a handoff's clocks, timeline and action forms; a queue's rows): the same escaping
(`conditional_escape`: markup-safe values as they are, everything else as text through
`html.escape`), without the lazy-text layers each of Django's escapes passes through —
a page builds a hundred fragments. tests/core/test_html.py holds them equal to Django's."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

from django.utils.safestring import SafeString, mark_safe


def _escaped(value) -> str:
    if type(value) is str:  # most are: no markup-safe method to look for
        return html.escape(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def format_html(format_string: str, *args, **kwargs) -> SafeString:
    if not (args or kwargs):
        raise TypeError("format_html: args or kwargs must be provided")
    return mark_safe(  # noqa: S308 - every argument escaped
        format_string.format(
            *map(_escaped, args), **{key: _escaped(value) for key, value in kwargs.items()}
        )
    )


def format_html_join(sep, format_string: str, args_generator: Iterable) -> SafeString:
    return mark_safe(  # noqa: S308 - every part escaped
        _escaped(sep).join(
            format_html(format_string, **args)
            if isinstance(args, Mapping)
            else format_html(format_string, *args)
            for args in args_generator
        )
    )
