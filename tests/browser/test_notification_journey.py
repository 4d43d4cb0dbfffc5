"""End to end in two real Chromium contexts: Support files a P1 and the engineer's bell
shows it within seconds without a reload; the engineer asks a question from the handoff
page; the requester's bell shows it, the inbox entry lands on the reply box, the reply is
sent and the handoff runs again."""

import re

import pytest
from playwright.sync_api import expect

from apps.handoffs.models import Handoff, Status
from apps.notifications.models import Notification
from tests.browser.helpers import field, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BELL_WAIT_MS = 10_000  # the bell polls every 5 s


def test_a_p1_reaches_the_engineers_bell_and_the_requester_answers_from_the_inbox(
    live_server, page, browser, people, password
):
    base = live_server.url

    # --- The engineer is on the dashboard, nothing unread ---------------------------------
    engineer = browser.new_context()
    try:
        desk = engineer.new_page()
        sign_in(desk, f"{base}/", "max", password)
        expect(desk.get_by_test_id("unread-badge")).to_have_count(0)
        desk.evaluate("window.__stayed = 'no reload'")

        # --- Support files a P1 --------------------------------------------------------------
        sign_in(page, f"{base}/handoffs/new/", "rita", password)
        page.get_by_test_id("choose-agreement").filter(has_text="Support → Engineering").click()
        page.get_by_label(field("Title")).fill("Checkout is down for everyone")
        page.get_by_label(re.compile(r"^P1")).check()
        page.get_by_label(field("Customer segment")).select_option("enterprise")
        page.get_by_label(field("Impacted customers")).fill("900")
        page.get_by_label(field("Environment")).select_option("production")
        page.get_by_label(field("Steps to reproduce")).fill("Open checkout, pay: 502.")
        page.get_by_label(field("Logs / links")).fill("https://logs.example.com/p1")
        page.get_by_test_id("submit-handoff").click()
        handoff = Handoff.objects.get()
        expect(page).to_have_url(f"{base}{handoff.get_absolute_url()}")

        # --- The engineer's bell shows it without a reload -----------------------------------
        expect(desk.get_by_test_id("unread-badge")).to_have_text("1", timeout=BELL_WAIT_MS)
        assert desk.evaluate("window.__stayed") == "no reload"
        filed = Notification.objects.get(recipient=people["max"], channel="in_app")
        assert filed.kind == "filed"

        # --- The engineer opens it from the inbox and asks a question -------------------------
        desk.get_by_test_id("notifications-link").click()
        entry = desk.get_by_test_id("inbox-entry").filter(has_text="Checkout is down")
        entry.get_by_test_id("open-notification").click()
        expect(desk).to_have_url(f"{base}{handoff.get_absolute_url()}")
        expect(desk.get_by_test_id("unread-badge")).to_have_count(0)
        desk.get_by_test_id("action-acknowledge").click()
        expect(desk.get_by_test_id("handoff-status")).to_have_text("Acknowledged")
        desk.get_by_test_id("panel-wait").locator("summary").click()
        desk.get_by_label(field("Question for the requester")).fill(
            "Which payment provider fails: all of them or only cards?"
        )
        desk.get_by_test_id("action-wait").click()
        expect(desk.get_by_test_id("handoff-status")).to_have_text("Waiting on requester")
    finally:
        engineer.close()

    # --- The requester's bell shows the question; the inbox link lands on the reply box ------
    page.goto(f"{base}/")
    expect(page.get_by_test_id("unread-badge")).not_to_have_count(0, timeout=BELL_WAIT_MS)
    page.get_by_test_id("notifications-link").click()
    # Acknowledged and asked within a minute: one entry listing both; each line opens
    # where it points.
    entry = page.get_by_test_id("inbox-entry").filter(has_text="Checkout is down")
    expect(entry.get_by_test_id("open-notification")).to_contain_text("2 updates")
    entry.get_by_test_id("open-update").filter(has_text="needs your answer").click()
    expect(page).to_have_url(f"{base}{handoff.get_absolute_url()}#reply")
    reply = page.get_by_label(field("Reply"))
    expect(reply).to_be_visible()
    reply.fill("Only cards; PayPal works.")
    page.get_by_test_id("action-resume").click()

    expect(page.get_by_test_id("handoff-status")).to_have_text("In progress")
    handoff.refresh_from_db()
    assert handoff.status == Status.IN_PROGRESS
    replied = page.get_by_test_id("event").filter(has_text="Only cards; PayPal works.")
    expect(replied).to_contain_text("Rita Support")
    # The engineer is told of the reply, once.
    told = Notification.objects.filter(recipient=people["max"], kind="replied", channel="in_app")
    assert told.count() == 1
