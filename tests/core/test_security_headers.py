"""Every response carries the security headers and a strict Content-Security-Policy, and
the portal's own pages keep to it: no inline script, no inline style, no on* handlers."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from apps.agreements import services as agreement_services
from apps.handoffs import services as handoff_services
from tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db

STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
    "base-uri": ["'self'"],
    "object-src": ["'none'"],
}


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def assert_security_headers(response) -> None:
    assert policy(response) == STRICT
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    features = dict(f.split("=", 1) for f in response["Permissions-Policy"].split(", "))
    assert features["camera"] == "()"
    assert features["microphone"] == "()"
    assert features["geolocation"] == "()"


def test_a_page_has_the_security_headers(client, provider_member):
    client.force_login(provider_member)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert_security_headers(response)


def test_the_sign_in_page_has_the_security_headers(client):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert_security_headers(response)


def test_an_api_response_has_the_security_headers(client, provider_member):
    client.force_login(provider_member)
    response = client.get("/api/teams/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert_security_headers(response)


def test_an_api_error_has_the_security_headers(client):
    response = client.get("/api/teams/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert_security_headers(response)


# --- the two scoped exceptions ------------------------------------------------------------


def test_the_api_docs_may_run_only_their_own_nonced_start_up_script(client, provider_member):
    client.force_login(provider_member)
    response = client.get(reverse("api-docs"))
    assert response.status_code == 200
    csp = policy(response)
    nonce = next(v for v in csp["script-src"] if v.startswith("'nonce-"))
    assert csp == {**STRICT, "script-src": ["'self'", nonce]}
    page = response.content.decode()
    assert f'<script nonce="{nonce[7:-1]}">' in page
    assert "<style" not in page


def test_no_other_page_gets_a_nonce(client, provider_member):
    client.force_login(provider_member)
    first, second = client.get(reverse("api-docs")), client.get(reverse("api-docs"))
    assert policy(first)["script-src"] != policy(second)["script-src"]  # fresh per response
    assert "nonce" not in client.get(reverse("dashboard"))["Content-Security-Policy"]


def test_the_browsable_api_may_use_inline_styles_but_no_inline_script(client, provider_member):
    client.force_login(provider_member)
    response = client.get("/api/teams/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert policy(response) == {**STRICT, "style-src": ["'self'", "'unsafe-inline'"]}


# --- the pages keep to the policy -----------------------------------------------------------


class InlineFinder(HTMLParser):
    """Everything in a page that a strict policy (no 'unsafe-inline') would block."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        # JSON data blocks are not scripts: the browser never runs them.
        data_block = attributes.get("type") in ("application/json", "application/ld+json")
        if tag == "script" and not attributes.get("src") and not data_block:
            self.found.append(f"inline <script> {attributes}")
        if tag == "style":
            self.found.append("<style> block")
        for name, value in attrs:
            if name == "style" or name.startswith(("on", "hx-on")):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}={value!r}>")


def inline_content(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    return finder.found


@pytest.fixture
def portal(provider_lead, provider_member, requester, provider_team, requesting_team):
    agreement = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team
    )
    draft = agreement_services.agreement_amend(agreement=agreement, actor=provider_lead)
    handoff = handoff_services.handoff_create(
        actor=requester,
        agreement=agreement,
        title="Checkout crashes",
        priority="P2",
        triage={"steps": "1. pay 2. crash", "environment": "production"},
    )
    return {"agreement": agreement, "draft": draft, "handoff": handoff}


def test_the_portal_pages_have_no_inline_script_style_or_handlers(client, portal, provider_lead):
    agreement, draft, handoff = portal["agreement"], portal["draft"], portal["handoff"]
    calendar = agreement.calendar
    pages = [
        reverse("dashboard"),
        reverse("queues:index"),
        reverse("queues:inbound", args=["engineering"]),
        reverse("queues:outgoing", args=["engineering"]),
        reverse("handoffs:detail", args=[handoff.pk]),
        reverse("handoffs:new"),
        reverse("agreements:list"),
        reverse("agreements:detail", args=[agreement.pk]),
        reverse("agreements:edit", args=[draft.pk]),
        f"{reverse('agreements:compare', args=[draft.pk])}?with={agreement.pk}",
        reverse("agreements:new"),
        reverse("agreements:windows"),
        reverse("agreements:window-new"),
        reverse("notifications:inbox"),
        reverse("notifications:preferences"),
        reverse("accounts:profile"),
        reverse("teams:list"),
        reverse("teams:detail", args=["engineering"]),
        reverse("calendars:detail", args=[calendar.pk]),
        reverse("calendars:edit", args=[calendar.pk]),
        # Built by their own releases; their URL names may move, their paths do not.
        "/reports/",
        "/reviews/",
    ]
    client.force_login(provider_lead)
    found = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        if inline := inline_content(response.content.decode()):
            found[url] = inline
    client.logout()
    response = client.get(reverse("accounts:login"))
    if inline := inline_content(response.content.decode()):
        found["sign-in"] = inline
    assert found == {}


def test_htmx_partials_have_no_inline_script_style_or_handlers(client, portal, provider_member):
    client.force_login(provider_member)
    response = client.post(
        reverse("handoffs:acknowledge", args=[portal["handoff"].pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "<tr" in response.content.decode()
    assert inline_content(response.content.decode()) == []


def test_the_finder_sees_what_the_policy_blocks():
    html = (
        '<script>alert(1)</script><script src="/static/a.js"></script>'
        '<script type="application/json">{}</script><style>p{}</style>'
        '<p style="color:red" onclick="x()" hx-on:click="y()"><a href="javascript:z()">z</a>'
    )
    assert len(inline_content(html)) == 6
