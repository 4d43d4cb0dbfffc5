"""End to end in a real Chromium: Engineering's lead starts the quarterly review of the
Support → Engineering agreement, tightens the P2 acknowledge target, sees the what-if
update without a page load, saves and signs off; Support's lead signs off in a browser of
his own; the review is completed with a link to the new version, and a handoff Support
files afterwards runs to the new target."""

import re
from datetime import date, datetime, timedelta

import pytest
from playwright.sync_api import expect

from apps.handoffs import services as handoff_services
from apps.handoffs.models import Clock, Handoff
from apps.reviews.models import QuarterlyReview, ReviewStatus
from apps.teams.models import Role
from tests.browser.helpers import field, sign_in
from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory
from tests.helpers import BERLIN, TRIAGE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# P2 (acknowledge within 2 h, 24×7): four escalations last quarter, acknowledged after
# these minutes. Against 2 h all four were met; against 1 h two of four would have been.
ACK_MINUTES = [30, 50, 90, 100]


@pytest.fixture
def review():
    engineering = TeamFactory(name="Engineering", slug="engineering")
    support = TeamFactory(name="Support", slug="support")
    lena = UserFactory(username="lena", first_name="Lena", last_name="Engineering")
    rob = UserFactory(username="rob", first_name="Rob", last_name="Support")
    rita = UserFactory(username="rita", first_name="Rita", last_name="Support")
    max_ = UserFactory(username="max", first_name="Max", last_name="Muster")
    MembershipFactory(team=engineering, user=lena, role=Role.LEAD)
    MembershipFactory(team=support, user=rob, role=Role.LEAD)
    MembershipFactory(team=support, user=rita)
    MembershipFactory(team=engineering, user=max_)
    agreement = AgreementFactory(
        series__provider_team=engineering,
        series__requesting_team=support,
        title="Support → Engineering escalations",
        next_review_date=date(2026, 4, 1),
    )
    for index, minutes in enumerate(ACK_MINUTES):
        filed = datetime(2026, 2, 2, 10, 0, tzinfo=BERLIN) + timedelta(days=index)
        handoff = handoff_services.handoff_create(
            actor=rita,
            agreement=agreement,
            title=f"Escalation {index + 1}",
            priority="P2",
            triage=TRIAGE,
            now=filed,
        )
        handoff_services.handoff_acknowledge(
            handoff=handoff, actor=max_, now=filed + timedelta(minutes=minutes)
        )
    return QuarterlyReview.objects.create(
        series=agreement.series,
        agreement=agreement,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 4, 1),
        due_date=date(2026, 4, 1),
    )


def _script_errors(page) -> list[str]:
    """Script errors and console errors (a refused script or style under the
    Content-Security-Policy shows up here) of the page, as they happen."""
    errors: list[str] = []

    def console(msg) -> None:
        # The browser asks for /favicon.ico on its own; the portal has none.
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            errors.append(msg.text)

    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", console)
    return errors


def test_both_leads_sign_off_a_changed_target_and_new_work_carries_it(
    live_server, page, browser, review, password
):
    base = live_server.url
    url = f"{base}{review.get_absolute_url()}"
    errors = _script_errors(page)

    # --- Engineering's lead starts the review -------------------------------------------
    sign_in(page, url, "lena", password)
    expect(page.get_by_test_id("review-status")).to_have_text("Scheduled")
    expect(page.get_by_test_id("period")).to_have_text("Q1 2026 (1 Jan – 31 Mar 2026)")
    page.get_by_test_id("start-review").click()
    expect(page.get_by_text("Review started")).to_be_visible()
    expect(page.get_by_test_id("review-status")).to_have_text("In progress")
    # The pack: P2 acknowledge met 4 of 4; Chart.js drew its charts from the JSON data.
    expect(page.get_by_test_id("pack-row-P2-acknowledge").get_by_test_id("met-pct")).to_have_text(
        "100.0 %"
    )
    expect(page.locator("canvas[data-chart='met'][data-metric='acknowledge']")).to_have_attribute(
        "style", re.compile("height")
    )

    # --- she tightens P2 acknowledge; the what-if answers without a page load ------------
    what_if = page.get_by_test_id("whatif-P2_acknowledge")
    expect(what_if).to_contain_text("100.0 % (4 of 4) within 2 h")
    page.evaluate("window.__beforeTyping = 'still here'")
    page.get_by_test_id("target-P2-acknowledge").fill("1h")
    expect(what_if).to_contain_text("50.0 % (2 of 4) within 1 h")
    expect(what_if).to_contain_text("real: 100.0 % against 2 h")
    assert page.evaluate("window.__beforeTyping") == "still here"
    # The recommendation (p80 100 min + 10 % → 2 h) is one click away, and replayed too.
    page.get_by_test_id("fill-recommended").click()
    expect(page.get_by_test_id("target-P2-acknowledge")).to_have_value("2h")
    expect(what_if).to_contain_text("100.0 % (4 of 4) within 2 h")
    page.get_by_test_id("target-P2-acknowledge").fill("1h")
    expect(what_if).to_contain_text("50.0 % (2 of 4) within 1 h")
    assert page.evaluate("window.__beforeTyping") == "still here"

    page.get_by_test_id("save-targets").click()
    expect(page.get_by_text("Proposed targets saved.")).to_be_visible()
    expect(page.get_by_test_id("target-P2-acknowledge")).to_have_value("1h")

    page.get_by_label("Comment (optional)").fill("P2 within the hour from next quarter.")
    page.get_by_test_id("sign-off").click()
    expect(
        page.get_by_text("Signed off for Engineering. Waiting for the other team")
    ).to_be_visible()
    expect(page.get_by_test_id("review-status")).to_have_text("Awaiting sign-off")
    expect(page.get_by_test_id("sign-off")).to_have_count(0)

    # --- Support's lead signs off, in a browser of his own --------------------------------
    context = browser.new_context()
    try:
        rob = context.new_page()
        rob_errors = _script_errors(rob)
        sign_in(rob, url, "rob", password)
        expect(rob.get_by_test_id("side-engineering")).to_contain_text("Signed by Lena Engineering")
        expect(rob.get_by_test_id("target-P2-acknowledge")).to_have_value("1h")
        expect(rob.get_by_test_id("sign-off")).to_have_text(re.compile("Sign off for Support"))
        rob.get_by_test_id("sign-off").click()
        expect(rob.get_by_text("The review is complete.")).to_be_visible()
        expect(rob.get_by_test_id("review-status")).to_have_text("Completed")
        link = rob.get_by_test_id("resulting-agreement")
        expect(link).to_have_text("Version 2")
        link.click()
        expect(rob.get_by_test_id("status-badge").first).to_have_text("Active")
        expect(rob.get_by_test_id("target-P2")).to_contain_text("1 h")
        assert rob_errors == []
    finally:
        context.close()

    review.refresh_from_db()
    assert review.status == ReviewStatus.COMPLETED
    new_version = review.resulting_agreement
    assert new_version.version == 2 and new_version.status == "active"

    # --- Support files a P2 afterwards: it carries the new target ------------------------
    context = browser.new_context()
    try:
        rita = context.new_page()
        sign_in(rita, f"{base}/handoffs/new/", "rita", password)
        rita.get_by_test_id("choose-agreement").filter(has_text="Support → Engineering").click()
        expect(rita.get_by_test_id("tier-P2")).to_contain_text("Acknowledge within 1 h")
        rita.get_by_label(field("Title")).fill("Invoices fail to render")
        rita.get_by_label("P2 high").check()
        rita.get_by_label(field("Steps to reproduce")).fill("1. open invoices")
        rita.get_by_label(field("Environment")).select_option("production")
        rita.get_by_test_id("submit-handoff").click()
        expect(rita.get_by_text("filed with Engineering")).to_be_visible()
    finally:
        context.close()

    handoff = Handoff.objects.get(title="Invoices fail to render")
    assert handoff.agreement_id == new_version.pk
    assert Clock.objects.get(handoff=handoff, metric="acknowledge").target_seconds == 3600
    assert errors == []
