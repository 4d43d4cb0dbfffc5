"""In a real Chromium: the bell shows a new notification without a reload (htmx polling),
drops at once when one is marked read in the inbox, and opening one lands where it
points — with no Content-Security-Policy violation on the way."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.notifications import services
from tests.browser.helpers import sign_in
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation(e.violatedDirective + " " + e.blockedURI);
});
"""


def tell(user, n: int, url: str = "/notifications/preferences/"):
    # No address: in-app only, nothing for a worker to deliver.
    services.notify(
        kind="question",
        title=f"Question {n} on #{n}",
        body="Which browser?",
        url=url,
        dedup_base=f"browser:{n}",
        recipients=[user],
        subject_type="handoff",
        subject_id=n,
        now=timezone.now(),
    )


def test_the_bell_follows_the_inbox_without_a_reload(live_server, page, password):
    rita = UserFactory(username="rita", first_name="Rita", email="")
    violations = []
    page.expose_function("__cspViolation", lambda violation: violations.append(violation))
    page.add_init_script(REPORT_VIOLATIONS)
    base = live_server.url

    sign_in(page, f"{base}/", "rita", password)
    badge = page.get_by_test_id("unread-badge")
    expect(badge).to_have_count(0)

    # Something happens elsewhere: the open page's bell shows it within a poll or two.
    tell(rita, 1)
    tell(rita, 2)
    expect(badge).to_have_text("2", timeout=12_000)

    page.get_by_test_id("notifications-link").click()
    expect(page).to_have_url(f"{base}/notifications/")
    entries = page.get_by_test_id("inbox-entry")
    expect(entries).to_have_count(2)
    # Marking one read in place: the bell drops at once, not at the next poll.
    entries.filter(has_text="Question 2").get_by_role("button", name="Mark read").click()
    expect(badge).to_have_text("1", timeout=2_000)

    # Opening the other marks it read and lands where it points.
    page.get_by_role("link", name=re.compile("Question 1")).click()
    expect(page).to_have_url(f"{base}/notifications/preferences/")
    expect(badge).to_have_count(0)
    assert violations == []
