"""Response headers for every page: Permissions-Policy and the Content-Security-Policy;
a guard that refuses addresses holding a NUL character; and the answers to bodies that are
too large (413) or malformed (400), as JSON under `/api/` and as a page elsewhere."""

from urllib.parse import unquote_plus

from csp.constants import NONCE, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from django.views.defaults import bad_request
from rest_framework.renderers import BrowsableAPIRenderer


class PermissionsPolicyMiddleware:
    """`Permissions-Policy` from settings.PERMISSIONS_POLICY: feature → allowed origins
    (an empty list switches the feature off everywhere)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = ", ".join(
            f"{feature}=({' '.join(origins)})"
            for feature, origins in settings.PERMISSIONS_POLICY.items()
        )

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, plus two exceptions for third-party pages that cannot keep
    to the policy, each given only to the responses that need it.

    - The API docs (drf-spectacular's Swagger UI) start Swagger from an inline script that
      carries the CSRF token, so it cannot be a static file: that page alone may run a
      script bearing its response's nonce (templates/drf_spectacular/swagger_ui.html puts
      it on that one script). Any other inline script stays blocked there too.
    - DRF's browsable API (an API URL opened in a browser) lays itself out with `style`
      attributes and a `<style>` block: those pages may use inline styles. Scripts stay
      `'self'` only; JSON answers are unaffected.
    """

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        extra: dict[str, list[str]] = {}
        match = getattr(request, "resolver_match", None)
        if match is not None and match.view_name == "api-docs":
            extra["script-src"] = [NONCE]
        elif isinstance(getattr(response, "accepted_renderer", None), BrowsableAPIRenderer):
            extra["style-src"] = [UNSAFE_INLINE]
        if extra:
            parts.update = {**(parts.update or {}), **extra}
        return parts


class RejectNullCharactersMiddleware:
    """400 for a request whose path or query string (percent-decoded) holds a NUL
    character: no page or API route has a use for one, and PostgreSQL cannot take it in a
    query parameter (the database driver raises, which would be a 500). Answered before
    anything reads the request: JSON `{"detail": …}` under `/api/`, a plain 400 page
    elsewhere."""

    MESSAGE = "The address contains a NUL character (%00), which is never valid here."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        query = unquote_plus(request.META.get("QUERY_STRING", ""), errors="replace")
        if "\x00" in request.path or "\x00" in query:
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": self.MESSAGE}, status=400)
            return bad_request(request, SuspiciousOperation(self.MESSAGE))
        return self.get_response(request)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def too_large(request: HttpRequest) -> HttpResponse:
    """413: the body is larger than settings.DATA_UPLOAD_MAX_MEMORY_SIZE."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    message = (
        f"The request body is too large: at most {limit:,} bytes are read "
        f"({limit / 1024 / 1024:.1f} MB)."
    )
    if _is_api(request):
        return JsonResponse({"detail": message}, status=413)
    html = render_to_string("413.html", {"message": message})
    return HttpResponse(html, status=413)


def malformed(request: HttpRequest, message: str) -> HttpResponse:
    """400 for a body that cannot be read at all."""
    if _is_api(request):
        return JsonResponse({"detail": message}, status=400)
    return HttpResponse(render_to_string("400.html", {"message": message}), status=400)


class RequestBodyLimitMiddleware:
    """Refuse a body that is too large before anything reads it, and answer the request
    errors Django raises while reading one in the portal's shapes rather than its bare
    HTML 400.

    Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE only when something reads
    `request.body`; DRF's parsers read the stream directly, so without this a 10 MB JSON
    body would be parsed in full. The declared Content-Length is checked up front; a body
    without one (chunked) is capped by Django when read, and that error comes back here
    through `process_exception`. The portal takes no file uploads, so every body is held
    to the limit.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared:
            if not (declared.isascii() and declared.isdigit()) or len(declared) > 18:
                return malformed(request, "The Content-Length header is not a number.")
            if int(declared) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
                return too_large(request)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, RequestDataTooBig):
            return too_large(request)
        if isinstance(exception, TooManyFieldsSent):
            return malformed(
                request,
                f"Too many fields: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} are read.",
            )
        if isinstance(exception, MultiPartParserError):
            return malformed(request, "The multipart body cannot be read.")
        return None
