"""End to end in a real Chromium: Support files an escalation (and is told, on the field,
what it forgot, without losing anything typed); an engineer acknowledges it from the queue
with one click and no page load; Support sees the acknowledgement on the timeline."""

import re

import pytest
from playwright.sync_api import expect

from apps.handoffs.models import Handoff, Status
from tests.browser.helpers import field, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_file_acknowledge_in_one_click_and_see_it_on_the_timeline(
    live_server, page, browser, people, password
):
    base = live_server.url

    # --- Support files an escalation, forgetting the steps to reproduce -----------------
    sign_in(page, f"{base}/handoffs/new/", "rita", password)
    page.get_by_test_id("choose-agreement").filter(has_text="Support → Engineering").click()
    expect(page.get_by_role("heading", name="File a handoff with Engineering")).to_be_visible()
    page.get_by_label(field("Title")).fill("Checkout crashes on saved cards")
    expect(page.get_by_test_id("tier-P2")).to_contain_text("Acknowledge within 2 h")
    page.get_by_label("P2 high").check()
    page.get_by_label(field("Customer segment")).select_option("enterprise")
    page.get_by_label(field("Impacted customers")).fill("12")
    page.get_by_label(field("Description")).fill("Since this morning's deploy.")
    page.get_by_label(field("Environment")).select_option("production")
    page.get_by_label(field("Logs / links")).fill("https://logs.example.com/42")
    page.get_by_test_id("submit-handoff").click()

    # The message sits on the forgotten field; everything else is still there.
    steps = page.get_by_label(field("Steps to reproduce"))
    expect(steps).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#id_triage-steps_error")).to_have_text("Steps to reproduce is required.")
    expect(page.get_by_label(field("Title"))).to_have_value("Checkout crashes on saved cards")
    expect(page.get_by_label("P2 high")).to_be_checked()
    expect(page.get_by_label(field("Customer segment"))).to_have_value("enterprise")
    expect(page.get_by_label(field("Impacted customers"))).to_have_value("12")
    expect(page.get_by_label(field("Description"))).to_have_value("Since this morning's deploy.")
    expect(page.get_by_label(field("Environment"))).to_have_value("production")
    expect(page.get_by_label(field("Logs / links"))).to_have_value("https://logs.example.com/42")
    assert not Handoff.objects.exists()

    steps.fill("1. open checkout\n2. pay with a saved card")
    page.get_by_test_id("submit-handoff").click()
    handoff = Handoff.objects.get()
    expect(page).to_have_url(f"{base}{handoff.get_absolute_url()}")
    expect(page.get_by_text(f"Handoff #{handoff.pk} filed with Engineering.")).to_be_visible()
    expect(page.get_by_test_id("handoff-status")).to_have_text("New")

    # --- An engineer acknowledges from the queue: one click, no page load ---------------
    engineer = browser.new_context()
    try:
        queue = engineer.new_page()
        sign_in(queue, f"{base}/queues/engineering/", "max", password)
        row = queue.locator(f"#handoff-{handoff.pk}")
        expect(row).to_contain_text("Checkout crashes on saved cards")
        expect(row.get_by_test_id("handoff-status")).to_have_text("New")
        queue.evaluate("window.__beforeClick = 'still here'")

        row.get_by_test_id("acknowledge").click()

        expect(row.get_by_test_id("handoff-status")).to_have_text("Acknowledged")
        expect(row.get_by_test_id("row-assignee")).to_have_text("Max Muster")
        expect(row.get_by_test_id("acknowledge")).to_have_count(0)
        # The page was not reloaded: what the script set before the click survived.
        assert queue.evaluate("window.__beforeClick") == "still here"
        assert queue.url == f"{base}/queues/engineering/"
    finally:
        engineer.close()
    handoff.refresh_from_db()
    assert (handoff.status, handoff.assignee) == (Status.ACKNOWLEDGED, people["max"])

    # --- Support reloads and sees it on the timeline -----------------------------------
    page.reload()
    expect(page.get_by_test_id("handoff-status")).to_have_text("Acknowledged")
    acknowledged = page.get_by_test_id("event").filter(has_text="Acknowledged").last
    expect(acknowledged).to_contain_text("Max Muster")
    expect(acknowledged).to_contain_text("Acknowledged; assigned to Max Muster")
