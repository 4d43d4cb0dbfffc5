"""In a real Chromium the Content-Security-Policy holds and nothing breaks under it: every
main page, an htmx swap, a Bootstrap dropdown, the admin and the API docs run without a
single policy violation, console error or script error."""

import pytest
from playwright.sync_api import expect

from apps.agreements import services as agreement_services
from apps.handoffs import services as handoff_services
from apps.teams.models import Role
from tests.browser.helpers import sign_in
from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation({
    page: document.location.pathname,
    directive: e.violatedDirective,
    blocked: e.blockedURI,
    sample: e.sample,
    source: e.sourceFile + ":" + e.lineNumber,
  });
});
"""


@pytest.fixture
def portal():
    engineering = TeamFactory(name="Engineering", slug="engineering")
    support = TeamFactory(name="Support", slug="support")
    # Lena leads Engineering and is staff too: one sign-in reaches every page and the admin.
    lena = UserFactory(username="lena", first_name="Lena", is_staff=True, is_superuser=True)
    rita = UserFactory(username="rita", first_name="Rita")
    MembershipFactory(team=engineering, user=lena, role=Role.LEAD)
    MembershipFactory(team=support, user=rita)
    agreement = AgreementFactory(
        series__provider_team=engineering,
        series__requesting_team=support,
        title="Support → Engineering escalations",
    )
    draft = agreement_services.agreement_amend(agreement=agreement, actor=lena)
    handoff = handoff_services.handoff_create(
        actor=rita,
        agreement=agreement,
        title="Checkout crashes on saved cards",
        priority="P2",
        triage={"steps": "1. pay 2. crash", "environment": "production"},
    )
    return {"agreement": agreement, "draft": draft, "handoff": handoff}


@pytest.fixture
def watched(page):
    """The page, with every violation, console message and uncaught error collected."""
    seen = {"violations": [], "console": [], "errors": []}
    page.expose_function("__cspViolation", lambda violation: seen["violations"].append(violation))
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda msg: seen["console"].append(
            f"{msg.type}: {msg.text} ({msg.location.get('url')} on {page.url})"
        ),
    )
    page.on("pageerror", lambda error: seen["errors"].append(f"{error} ({page.url})"))
    return page, seen


def test_the_pages_keep_to_the_content_security_policy(live_server, watched, portal, password):
    page, seen = watched
    base = live_server.url
    agreement, draft, handoff = portal["agreement"], portal["draft"], portal["handoff"]

    sign_in(page, f"{base}/", "lena", password)
    expect(page.get_by_role("navigation")).to_be_visible()

    def visit(path: str) -> None:
        response = page.goto(f"{base}{path}")
        assert response.status == 200, path
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy, path
        assert "default-src 'self'" in policy, path
        page.wait_for_load_state("networkidle")

    visit("/")
    # Bootstrap's script works: the user menu opens.
    page.get_by_test_id("user-menu").click()
    expect(page.get_by_role("link", name="Profile & API token")).to_be_visible()

    # htmx works: acknowledging from the queue swaps the row in place.
    visit("/queues/engineering/")
    row = page.locator(f"#handoff-{handoff.pk}")
    row.get_by_test_id("acknowledge").click()
    expect(row.get_by_test_id("handoff-status")).to_have_text("Acknowledged")

    visit(f"/handoffs/{handoff.pk}/")
    expect(page.get_by_test_id("handoff-status")).to_have_text("Acknowledged")
    visit(f"/agreements/{agreement.pk}/")
    visit(f"/agreements/{draft.pk}/edit/")
    visit(f"/agreements/{draft.pk}/compare/?with={agreement.pk}")
    visit("/notifications/")
    visit("/accounts/profile/")

    visit("/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    visit("/admin/handoffs/handoff/")
    expect(page.get_by_text("Checkout crashes on saved cards")).to_be_visible()

    # DRF's browsable API (inline styles allowed there, scripts still 'self' only).
    visit("/api/handoffs/")
    expect(page.get_by_text("Checkout crashes on saved cards")).to_be_visible()

    visit("/api/docs/")
    # Swagger UI started (its nonced script ran) and drew the operations from the schema.
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()

    assert seen["violations"] == []
    assert seen["errors"] == []
    assert seen["console"] == []


def test_the_sign_in_page_keeps_to_the_policy_when_it_refuses(live_server, watched, portal):
    page, seen = watched
    page.goto(f"{live_server.url}/accounts/login/")
    for _ in range(6):
        page.get_by_label("Username").fill("lena")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
    expect(
        page.get_by_text("Too many failed sign-in attempts. Try again in 15 minutes.")
    ).to_be_visible()

    assert seen["violations"] == []
    assert seen["errors"] == []
    # The refusal is an HTTP 429, which Chromium reports as a failed resource load.
    assert [m for m in seen["console"] if "429" not in m] == []
