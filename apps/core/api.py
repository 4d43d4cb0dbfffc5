"""API plumbing shared by every app: how service errors become HTTP answers, and the one
way an API write is taken.

- `IdField`, `VisibleRelatedField`: ids as a client types them, chosen among what the
  user may see (`visible_to(user)`, STYLE rule 3).
- `ApiErrorSerializer`, `error_responses()`: the error shapes the schema documents.
- `ServiceActionMixin`: validate the action's input serializer, call one service, answer
  with the output serializer (STYLE rule 14).
- `SafeJSONParser`, `exception_handler`: how bodies are read and service errors answered.
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from . import limits
from .exceptions import Conflict

# --- input fields ------------------------------------------------------------------------------


class IdField(serializers.IntegerField):
    """A primary key as the client types it: an integer within the column's range.

    The storage range of an id column: a larger number is a type error (and would overflow
    PostgreSQL's integer), whereas "positive" is a rule the services word.
    """

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=limits.INT_MAX, **kwargs)


def _visible_to(queryset, user):
    return queryset.visible_to(user)


class VisibleRelatedField(serializers.PrimaryKeyRelatedField):
    """A primary key chosen among what the requesting user may see (STYLE rule 3); any
    other id is "does not exist".

    The choice starts from `queryset.visible_to(user)`, or from `visible(queryset, user)`
    for a model whose visibility is another's (an agreement series is visible through its
    versions).
    """

    def __init__(self, *, visible=None, **kwargs):
        self.visible = visible or _visible_to
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:  # schema generation: only the model matters
            return super().get_queryset().none()
        return self.visible(super().get_queryset(), request.user)


# --- error shapes (for the schema) -------------------------------------------------------------


class ApiErrorSerializer(serializers.Serializer):
    """What went wrong, in one sentence."""

    detail = serializers.CharField()


def error_responses(
    *, invalid: str, forbidden: str, conflict: str, not_found: str = "Not visible to you."
) -> dict[int, OpenApiResponse]:
    """The documented 400/403/404/409 of an app's writes, each with what it means there
    (`exception_handler` gives the shapes)."""
    return {
        400: OpenApiResponse(OpenApiTypes.OBJECT, description=invalid),
        403: OpenApiResponse(ApiErrorSerializer, description=forbidden),
        404: OpenApiResponse(ApiErrorSerializer, description=not_found),
        409: OpenApiResponse(ApiErrorSerializer, description=conflict),
    }


# --- actions -----------------------------------------------------------------------------------


class ServiceActionMixin:
    """A viewset's writes, one way: `_input()` validates the body with the action's own
    input serializer, the action calls exactly one service, and `_respond()` answers with
    the viewset's serializer, re-read from `respond_queryset()` (what the user may see, in
    the list's shape)."""

    def _input(self, serializer_class, **kwargs):
        serializer = serializer_class(
            data=self.request.data, context=self.get_serializer_context(), **kwargs
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def respond_queryset(self):
        """Where an answer is re-read; override when `get_queryset()` is not shaped for
        output on a write."""
        return self.get_queryset()

    def _respond(self, instance, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.respond_queryset().get(pk=instance.pk)
        return Response(self.get_serializer(fresh).data, code)


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
