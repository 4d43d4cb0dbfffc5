"""Form pieces every app's pages share."""

from __future__ import annotations

from django import forms


def textarea(rows: int = 3, **attrs) -> forms.Textarea:
    """A text area `rows` lines high (more HTML attributes as keywords)."""
    return forms.Textarea(attrs={"rows": rows, **attrs})
