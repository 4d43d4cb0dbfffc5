from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied

from apps.agreements import services
from apps.agreements.models import ExceptionWindow
from apps.core.exceptions import Conflict
from tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 1, 9, tzinfo=UTC)
END = datetime(2026, 12, 1, 17, tzinfo=UTC)


@pytest.fixture
def window(provider_team, provider_member):
    return services.exception_window_request(
        actor=provider_member,
        provider_team=provider_team,
        start=START,
        end=END,
        reason="Data-centre move",
    )


def test_a_member_requests_and_the_provider_lead_approves(window, provider_lead):
    assert window.status == ExceptionWindow.Status.REQUESTED
    services.exception_window_approve(window=window, actor=provider_lead, note="OK")
    window.refresh_from_db()
    assert (window.status, window.decided_by) == (ExceptionWindow.Status.APPROVED, provider_lead)
    with pytest.raises(Conflict):
        services.exception_window_reject(window=window, actor=provider_lead)


def test_only_provider_leads_or_staff_decide(window, provider_member, requester_lead, staff):
    for actor in (provider_member, requester_lead):
        with pytest.raises(PermissionDenied):
            services.exception_window_approve(window=window, actor=actor)
    services.exception_window_reject(window=window, actor=staff, note="Not now")
    window.refresh_from_db()
    assert window.status == ExceptionWindow.Status.REJECTED


def test_only_provider_members_request(provider_team, requester):
    with pytest.raises(PermissionDenied):
        services.exception_window_request(
            actor=requester, provider_team=provider_team, start=START, end=END, reason="x"
        )


def test_a_window_covers_its_agreement_or_all_of_the_teams(
    provider_team, requesting_team, provider_member, other_team
):
    mine = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team
    )
    other = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=other_team
    )
    team_wide = services.exception_window_request(
        actor=provider_member, provider_team=provider_team, start=START, end=END, reason="a"
    )
    scoped = services.exception_window_request(
        actor=provider_member,
        provider_team=provider_team,
        start=START,
        end=END,
        reason="b",
        series=mine.series,
    )
    assert set(ExceptionWindow.objects.covering(mine)) == {team_wide, scoped}
    assert set(ExceptionWindow.objects.covering(other)) == {team_wide}
