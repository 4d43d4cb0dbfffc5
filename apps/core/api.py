"""API plumbing shared by every app: how service errors become HTTP answers."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from . import limits
from .exceptions import Conflict


def nest_error_keys(errors: dict[str, list[str]]) -> dict:
    """Dotted service keys (`targets.2.resolve_seconds`) → nested JSON
    (`{"targets": {"2": {"resolve_seconds": [...]}}}`); `__all__` → `non_field_errors`.

    A key that has both its own messages and nested ones (`triage` and `triage.steps`)
    keeps both: its own go under `non_field_errors` inside it.
    """
    nested: dict = {}
    for key, messages in errors.items():
        key = "non_field_errors" if key == "__all__" else key
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.get(part)
            if isinstance(child, list):
                child = {"non_field_errors": child}
            node[part] = child = child if isinstance(child, dict) else {}
            node = child
        if isinstance(node.get(leaf), dict):
            node[leaf].setdefault("non_field_errors", []).extend(messages)
        else:
            node[leaf] = [*node.get(leaf, []), *messages]
    return nested


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, made safe for any body: the project's only JSON parser (the
    default in settings, and named by every view that lists its parsers).

    - A body nested deeper than `limits.JSON_DEPTH_MAX` is a 400: deeper than Python's
      parser can follow (`[[[[…`), DRF lets the RecursionError through as a 500, and no
      input of ours nests more than a few levels.
    - A string (key or value) holding a lone UTF-16 surrogate (`"\\ud800"`) is a 400:
      it is not a character, and PostgreSQL refuses it in text and jsonb (a 500 later).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(
                "JSON parse error - the body is nested too deeply."
            ) from None
        problem = _json_problem(data)
        if problem:
            raise exceptions.ParseError(f"JSON parse error - {problem}")
        return data


def _json_problem(data) -> str | None:
    """What makes a parsed JSON value unfit to store, or None. Iterative, so that its own
    depth is no limit."""
    stack = [(data, 0, "")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            if limits.has_surrogate(value):
                where = f" at {path}" if path else ""
                return (
                    f"the text{where} holds a lone surrogate (such as \\ud800), "
                    "which is not a character."
                )
            continue
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            continue
        if depth >= limits.JSON_DEPTH_MAX:
            return f"the body is nested more than {limits.JSON_DEPTH_MAX} levels deep."
        for key, item in items:
            where = limits.printable(f"{path}.{key}" if path else str(key))
            if isinstance(key, str) and limits.has_surrogate(key):
                return (
                    f"the key {where!r} holds a lone surrogate (such as \\ud800), "
                    "which is not a character."
                )
            stack.append((item, depth + 1, where))
    return None


def exception_handler(exc, context):
    """Service errors map one way everywhere: ValidationError → 400 with field-keyed
    messages, PermissionDenied → 403, Conflict → 409 with a `detail`."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            body = nest_error_keys(exc.message_dict)
        else:
            body = {"non_field_errors": exc.messages}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Conflict):
        return Response({"detail": exc.message}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    return drf_exception_handler(exc, context)
