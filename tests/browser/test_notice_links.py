"""In a real Chromium, a notification's link lands where the reader acts: the requester
opens the engineer's question from the inbox and finds the reply box open (#reply),
answers, and the handoff resumes with the engineer told; a resolution's link opens the
confirm panel (#confirm)."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.handoffs import services
from apps.handoffs.models import Handoff, Status
from apps.notifications.models import Kind, Notification
from tests.browser.helpers import sign_in
from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory
from tests.helpers import TRIAGE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def waiting(settings, live_server):
    settings.SITE_URL = live_server.url
    engineering = TeamFactory(name="Engineering", slug="engineering")
    support = TeamFactory(name="Support", slug="support")
    rita = UserFactory(username="rita", first_name="Rita", last_name="Support")
    max_ = UserFactory(username="max", first_name="Max", last_name="Muster")
    MembershipFactory(team=support, user=rita)
    MembershipFactory(team=engineering, user=max_)
    agreement = AgreementFactory(series__provider_team=engineering, series__requesting_team=support)
    # Acknowledged minutes before the question: one inbox entry each (not coalesced).
    now = timezone.now() - timedelta(minutes=5)
    handoff = services.handoff_create(
        actor=rita,
        agreement=agreement,
        title="Checkout crashes",
        priority="P2",
        triage=TRIAGE,
        now=now,
    )
    handoff = services.handoff_acknowledge(handoff=handoff, actor=max_, now=now)
    return services.handoff_wait_on_requester(
        handoff=handoff, actor=max_, question="Which browser do you use?", now=timezone.now()
    )


def test_the_question_opens_on_the_reply_box_and_the_answer_resumes_the_handoff(
    live_server, page, waiting, password
):
    base = live_server.url
    sign_in(page, f"{base}/notifications/", "rita", password)
    page.get_by_test_id("open-notification").filter(has_text="needs your answer").click()
    expect(page).to_have_url(re.compile(rf"/handoffs/{waiting.pk}/#reply$"))
    reply = page.get_by_label("Reply")
    expect(reply).to_be_visible()
    reply.fill("Firefox 128 on Windows")
    page.get_by_test_id("action-resume").click()
    expect(page.get_by_text("is back in progress")).to_be_visible()

    assert Handoff.objects.get(pk=waiting.pk).status == Status.IN_PROGRESS
    told = Notification.objects.get(kind=Kind.REPLIED, channel="in_app")
    assert (told.recipient.username, told.body) == ("max", "Firefox 128 on Windows")

    # Resolved: the requester's link opens the panel that confirms it (or reopens).
    services.handoff_resolve(
        handoff=waiting,
        actor=waiting.assignee,
        resolution="Fixed in 4.2.1.",
        now=timezone.now(),
    )
    page.goto(f"{base}/notifications/")
    page.get_by_test_id("open-notification").filter(has_text="confirm or reopen").click()
    expect(page).to_have_url(re.compile(rf"/handoffs/{waiting.pk}/#confirm$"))
    expect(page.get_by_test_id("action-close")).to_be_visible()
