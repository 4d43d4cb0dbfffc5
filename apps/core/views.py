"""One way through a POST view: validate a form, call one service, leave a message and
redirect — or re-render the page (or answer an htmx partial) when the input is wrong.

The service's refusals map the same way on every page (see `apps.core.exceptions`):

- `Conflict` (the state does not allow it) → its message and a redirect to `back`;
- `PermissionDenied` → a 403 (raised on), or with `denied_as_message` a message and the
  redirect, for pages where a refusal is part of the flow rather than a forbidden URL;
- `ValidationError` → onto the form's fields and `invalid(form)` (the page re-rendered,
  its status chosen by the caller), or with `errors_as_message` (or no form) a message and
  the redirect.

With `partial` and an htmx request, every outcome is answered by
`partial(error=…)` / `partial(notice=…)` instead of a message and a redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect

from .exceptions import Conflict

T = TypeVar("T")


def put_errors(form: forms.Form, exc: ValidationError) -> None:
    """A service's field-keyed errors onto the form's fields, the rest above the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, errors in exc.message_dict.items():
        form.add_error(key if key in form.fields else None, errors)


def form_errors(form: forms.Form) -> list[str]:
    """Every message on the form, fields and non-field alike, in order."""
    return [message for errors in form.errors.values() for message in errors]


def post_action(
    request,
    *,
    act: Callable[[], T],
    done: Callable[[T], str] | str,
    back: Any,
    then: Callable[[T], Any] | Any = None,
    form: forms.Form | None = None,
    invalid: Callable[[forms.Form], HttpResponse] | None = None,
    put: Callable[[forms.Form, ValidationError], None] = put_errors,
    errors_as_message: bool = False,
    denied_as_message: bool = False,
    partial: Callable[..., HttpResponse] | None = None,
) -> HttpResponse:
    """Run `act` (the one service call, after `form` validated) and answer the request.

    `done` is the success message (or makes it from what `act` returned); `then` is where
    success goes (a URL, a model, or made from the result; default `back`); `back` is
    where a refusal goes. `invalid(form)` renders the page with the bound form; it is
    required when `form` is given and its errors are shown on it."""
    htmx = partial is not None and getattr(request, "htmx", False)
    if form is not None and not form.is_valid():
        if htmx:
            return partial(error=" ".join(form_errors(form)))
        return invalid(form)
    try:
        result = act()
    except Conflict as exc:
        message = exc.message
    except PermissionDenied as exc:
        if not denied_as_message:
            raise
        message = str(exc) or "You may not do that."
    except ValidationError as exc:
        if form is not None and not errors_as_message:
            put(form, exc)
            if htmx:
                return partial(error=" ".join(form_errors(form)))
            return invalid(form)
        message = " ".join(exc.messages)
    else:
        text = done(result) if callable(done) else done
        if htmx:
            return partial(notice=text)
        messages.success(request, text)
        target = back if then is None else then
        return redirect(target(result) if callable(target) else target)
    if htmx:
        return partial(error=message)
    messages.error(request, message)
    return redirect(back)
