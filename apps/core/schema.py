"""OpenAPI: every operation documents the errors it can answer with.

`apps.core.api.exception_handler` gives every app the same error shapes; this
drf-spectacular postprocessing hook writes them into the schema once, for every operation
that does not document a code itself (an operation's own, more specific description
wins). Which codes an operation can answer follows from what it is:

- 401 unless it allows anonymous calls (DRF answers `WWW-Authenticate: Token`);
- 400 when it takes a request body or filters (field-keyed messages), 413 when that
  body is larger than the portal reads, and 415 when it comes in a media type the
  operation does not read;
- 403 for writes that need a signed-in user (a team that may not act, or a session
  request without its CSRF token);
- 404 when its path names an object (not there or not visible to you) or it is
  paginated (`?page=` beyond the last page);
- 409 for writes on an existing object (its status does not allow the action);
- 429 when the view is throttled.

Checked by `tests/core/test_api_fuzz_schemathesis.py`: schemathesis fails on any status
an operation answers with that the schema does not list.
"""

from __future__ import annotations

import re

ERROR = "ApiError"
FIELD_ERRORS = "FieldErrors"

COMPONENTS = {
    ERROR: {
        "type": "object",
        "description": "What went wrong, in one sentence.",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    FIELD_ERRORS: {
        "type": "object",
        "description": (
            "Messages keyed by the input field they concern; nested parts are keyed by "
            'field or item index (`{"triage": {"steps": ["…"]}}`, '
            '`{"targets": {"0": {"resolve_seconds": ["…"]}}}`). `non_field_errors` is '
            "about the input as a whole; a body that cannot be parsed at all gives "
            '`{"detail": "…"}`.'
        ),
        "properties": {
            "non_field_errors": {"type": "array", "items": {"type": "string"}},
            "detail": {"type": "string"},
        },
        "additionalProperties": {
            "oneOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "object", "additionalProperties": {}},
            ]
        },
    },
}

DESCRIPTIONS = {
    "400": "Bad input: messages keyed by field.",
    "401": "No valid credentials: send `Authorization: Token …` or a session cookie.",
    "403": ("Not allowed: your team may not do this (or a session request lacks its CSRF token)."),
    "404": "No such object, or not one you may see (also a `page` past the last one).",
    "409": "The object's current status does not allow this.",
    "413": "The body is larger than the portal reads (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB).",
    "415": "The body's Content-Type is not one this operation reads.",
    "429": "Too many requests: wait the `Retry-After` seconds.",
}

WRITES = {"post", "put", "patch", "delete"}
PAGINATION_PARAMETERS = {"page", "page_size"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _response(code: str) -> dict:
    schema = _ref(FIELD_ERRORS if code == "400" else ERROR)
    response = {
        "description": DESCRIPTIONS[code],
        "content": {"application/json": {"schema": schema}},
    }
    if code == "401":
        response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    if code == "429":
        response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
    return response


def _shape(path: str) -> str:
    """`/api/teams/{id}/` and `/api/teams/{pk}/` are the same operation: compare shapes."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def _throttled(generator) -> set[tuple[str, str]]:
    """(path shape, method) of every operation whose view has a throttle."""
    throttled = set()
    for path, _regex, method, callback in generator.endpoints or ():
        view = getattr(callback, "cls", None)
        initkwargs = getattr(callback, "initkwargs", {}) or {}
        throttles = initkwargs.get("throttle_classes", getattr(view, "throttle_classes", ()))
        if throttles:
            throttled.add((_shape(path), method.lower()))
    return throttled


def error_codes(path: str, method: str, operation: dict) -> list[str]:
    """The error statuses an operation can answer with (see the module docstring)."""
    codes = []
    signed_in = {} not in operation.get("security", [{}])
    if signed_in:
        codes.append("401")
    query = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    if "requestBody" in operation or query - PAGINATION_PARAMETERS:
        codes.append("400")
    if "requestBody" in operation:
        codes.extend(["413", "415"])
    if method in WRITES and signed_in:
        codes.append("403")
    names_object = "{" in path
    if names_object or query & PAGINATION_PARAMETERS:
        codes.append("404")
    if method in WRITES and names_object:
        codes.append("409")
    return codes


def document_error_responses(result, generator, request=None, public=False, **kwargs):
    """drf-spectacular postprocessing hook: add the error responses each operation can
    give, in the shapes `apps.core.api.exception_handler` produces."""
    throttled = _throttled(generator)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete", "head", "options"}:
                continue
            codes = error_codes(path, method, operation)
            if (_shape(path), method) in throttled:
                codes.append("429")
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, _response(code))
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in COMPONENTS.items():
        schemas.setdefault(name, schema)
    return result
