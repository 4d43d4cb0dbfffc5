"""Response headers for every page: Permissions-Policy and the Content-Security-Policy;
and a guard that refuses addresses holding a NUL character."""

from urllib.parse import unquote_plus

from csp.constants import NONCE, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponseBase, JsonResponse
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
