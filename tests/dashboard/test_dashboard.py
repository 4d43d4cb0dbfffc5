"""The dashboard `/`: the signed-in person's work, their teams' risk, what waits on them,
approvals, reviews, unread notifications and 30-day compliance tiles (issue 7, item 1)."""

import re

import pytest
import time_machine
from django.urls import reverse

from apps.agreements import services as agreement_services
from apps.handoffs import services
from apps.notifications.services import notify
from apps.reviews.models import QuarterlyReview
from tests.dashboard.conftest import AFTERNOON
from tests.helpers import MONDAY_10, berlin

pytestmark = pytest.mark.django_db


def _rows(html: str, testid: str) -> list[int]:
    section = html.split(f'data-testid="{testid}"', 1)[1].split("</section>", 1)[0]
    return [int(pk) for pk in re.findall(r'data-handoff="(\d+)"', section)]


def test_provider_member_sees_their_work_and_the_teams_risk(client, provider_member, monday_work):
    client.force_login(provider_member)
    with time_machine.travel(AFTERNOON, tick=False):
        response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    # Acknowledging or starting work takes it (as claiming does); `risky` is nobody's yet.
    assert set(_rows(html, "my-work")) == {monday_work[k].pk for k in ("late", "calm", "asking")}
    # Breached (the P1, still open) and at risk (the P3 inside its warning threshold).
    assert set(_rows(html, "attention")) == {monday_work["late"].pk, monday_work["risky"].pk}
    assert "1 at risk" in html and "1 breached" in html
    # 30-day tile: three acknowledge clocks finished (`calm` and `asking` met, `late`
    # breached): 2 of 3 met.
    tile = html.split('data-team="engineering"', 1)[1].split("card-footer", 1)[0]
    assert 'data-testid="tile-met">66.7 %' in tile
    assert re.search(r'data-testid="tile-breached">1<', tile)


def test_requester_sees_what_waits_on_them(client, requester, monday_work):
    client.force_login(requester)
    with time_machine.travel(AFTERNOON, tick=False):
        html = client.get(reverse("dashboard")).content.decode()
    waiting = html.split('data-testid="waiting-on-me"', 1)[1].split("</section>", 1)[0]
    assert monday_work["asking"].title in waiting
    assert "asked you" in waiting
    # The requester is not on Engineering: nothing of its queue's risk is theirs.
    assert _rows(html, "attention") == []


def test_outsider_sees_nothing_of_other_teams(client, outsider, monday_work):
    client.force_login(outsider)
    with time_machine.travel(AFTERNOON, tick=False):
        html = client.get(reverse("dashboard")).content.decode()
    for handoff in monday_work.values():
        assert f'data-handoff="{handoff.pk}"' not in html
    assert "Checkout crashes" not in html


def test_agreements_awaiting_my_approval(client, agreement, provider_lead, requester_lead):
    draft = agreement_services.agreement_amend(agreement=agreement, actor=requester_lead)
    # An unchanged version cannot be submitted: the amendment changes the playbook.
    agreement_services.agreement_update_draft(
        agreement=draft, actor=requester_lead, playbook="Page the on-call engineer first."
    )
    agreement_services.agreement_submit(agreement=draft, actor=requester_lead)
    agreement_services.agreement_approve(agreement=draft, actor=requester_lead)
    client.force_login(provider_lead)
    section = client.get(reverse("dashboard")).content.decode().split('data-testid="approvals"')[1]
    assert f"v{draft.version}" in section.split("</section>")[0]
    # Support's lead has approved their side: nothing is left for them to approve.
    client.force_login(requester_lead)
    section = client.get(reverse("dashboard")).content.decode().split('data-testid="approvals"')[1]
    assert "Nothing to approve." in section.split("</section>")[0]


def test_reviews_due_and_unread_notifications(client, agreement, provider_lead):
    review = QuarterlyReview.objects.create(
        series=agreement.series,
        agreement=agreement,
        period_start=berlin(2025, 12, 1).date(),
        period_end=berlin(2026, 3, 1).date(),
        due_date=berlin(2026, 3, 10).date(),
    )
    notify(
        kind="review_due",
        title="Quarterly review due on 10 March",
        body="",
        url=review.get_absolute_url(),
        dedup_base="test:review-due",
        recipients=[provider_lead],
        now=MONDAY_10,
    )
    client.force_login(provider_lead)
    with time_machine.travel(MONDAY_10, tick=False):
        html = client.get(reverse("dashboard")).content.decode()
    reviews = html.split('data-testid="reviews-due"', 1)[1].split("</section>", 1)[0]
    assert review.get_absolute_url() in reviews and "due 10 Mar" in reviews
    unread = html.split('data-testid="unread"', 1)[1].split("</section>", 1)[0]
    assert "Quarterly review due on 10 March" in unread


def test_dashboard_query_count_does_not_grow_with_work(
    client, provider_member, file_handoff, django_assert_max_num_queries
):
    def load():
        with time_machine.travel(AFTERNOON, tick=False):
            return client.get(reverse("dashboard"))

    client.force_login(provider_member)
    for _ in range(2):
        services.handoff_claim(handoff=file_handoff("P3"), actor=provider_member, now=MONDAY_10)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        load()
    for _ in range(12):
        services.handoff_claim(handoff=file_handoff("P1"), actor=provider_member, now=MONDAY_10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = load()
    assert len(_rows(response.content.decode(), "my-work")) == 8
