"""Dates are inputs too: the main pages and API lists answer 200 at the awkward dates —
1 January, 29 February, 30 November, 31 December and both DST change days in
Europe/Berlin and America/New_York — for people in those zones, with data created at
those moments (a month arithmetic bug must not hide until November)."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from rest_framework.test import APIClient

from apps.handoffs import services as handoff_services
from apps.notifications.services import notify
from apps.reviews.models import QuarterlyReview, ReviewStatus
from apps.reviews.pack import _add_months
from tests.factories import AgreementFactory
from tests.helpers import TRIAGE

pytestmark = pytest.mark.django_db


MOMENTS = [
    # (name, local wall time, zone)
    ("new-year", datetime(2027, 1, 1, 0, 30), "Europe/Berlin"),
    ("leap-day", datetime(2028, 2, 29, 12, 0), "America/New_York"),
    ("30-november", datetime(2026, 11, 30, 23, 30), "Europe/Berlin"),
    ("31-december", datetime(2026, 12, 31, 23, 45), "America/New_York"),
    ("berlin-spring-forward", datetime(2026, 3, 29, 3, 30), "Europe/Berlin"),
    ("berlin-fall-back", datetime(2026, 10, 25, 2, 30), "Europe/Berlin"),
    ("new-york-spring-forward", datetime(2026, 3, 8, 3, 30), "America/New_York"),
    ("new-york-fall-back", datetime(2026, 11, 1, 1, 30), "America/New_York"),
]


def _review(agreement, start: date, end: date) -> QuarterlyReview:
    return QuarterlyReview.objects.create(
        series=agreement.series,
        agreement=agreement,
        period_start=start,
        period_end=end,
        due_date=end,
        status=ReviewStatus.SCHEDULED,
    )


@pytest.mark.parametrize("name,wall,zone", MOMENTS, ids=[m[0] for m in MOMENTS])
def test_pages_and_api_lists_answer_at_awkward_dates(
    client, name, wall, zone, provider_team, requesting_team, provider_lead, requester
):
    moment = wall.replace(tzinfo=ZoneInfo(zone))
    today = moment.date()
    for user in (provider_lead, requester):
        user.time_zone = zone
        user.save()
    agreement = AgreementFactory(
        series__provider_team=provider_team,
        series__requesting_team=requesting_team,
        next_review_date=today,
    )
    with time_machine.travel(moment, tick=False):
        handoff = handoff_services.handoff_create(
            actor=requester,
            agreement=agreement,
            title=f"Filed on {name}",
            priority="P3",
            triage=TRIAGE,
            now=moment,
        )
        month_start = today.replace(day=1)
        # A period starting this month (November + 3 months is next year) and one that
        # ended today.
        starting = _review(agreement, month_start, _add_months(month_start, 3))
        ended = _review(agreement, _add_months(today, -3), today)
        notify(
            kind="reminder",
            title=f"Reminder on {name}",
            body="Awkward date.",
            url=handoff.get_absolute_url(),
            dedup_base=f"awkward:{name}",
            recipients=[provider_lead],
            now=moment,
        )
        pages = [
            "/",
            f"/queues/{provider_team.slug}/",
            handoff.get_absolute_url(),
            "/agreements/",
            agreement.get_absolute_url(),
            "/reviews/",
            starting.get_absolute_url(),
            ended.get_absolute_url(),
            "/reports/",
            "/reports/?group_by=month",
            f"/reports/?from={_add_months(today, -6)}&to={today}&group_by=month",
            "/notifications/",
        ]
        client.force_login(provider_lead)
        for path in pages:
            assert client.get(path).status_code == 200, path
        client.force_login(requester)
        for path in ("/", "/handoffs/new/", f"/handoffs/new/?series={agreement.series_id}"):
            assert client.get(path).status_code == 200, path

        api = APIClient()
        api.force_authenticate(provider_lead)
        for path in (
            "/api/handoffs/",
            f"/api/handoffs/{handoff.pk}/",
            "/api/agreements/",
            "/api/reviews/",
            f"/api/reviews/{starting.pk}/",
            "/api/notifications/",
            "/api/action-items/",
            "/api/exception-windows/",
            "/api/reports/compliance/?group_by=month",
            f"/api/reports/compliance/?group_by=team&from={_add_months(today, -3)}&to={today}",
        ):
            assert api.get(path).status_code == 200, path
        # The review that ended today starts today (its period is over).
        client.force_login(provider_lead)
        assert client.post(f"/reviews/{ended.pk}/start/").status_code == 302
        assert client.get(ended.get_absolute_url()).status_code == 200
