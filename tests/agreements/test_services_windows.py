"""Exception windows in the services: a second person approves, within the backdating and
length limits, with the seed's documentation; approvers and requesters are told; a window
can be ended early; approved time that changes is signalled inside the transaction."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.agreements import services
from apps.agreements.models import ExceptionWindow
from apps.agreements.signals import exception_windows_changed
from apps.core.exceptions import Conflict
from apps.notifications.models import Channel, Kind, Notification
from apps.teams.models import Role
from tests.factories import AgreementFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)
START = datetime(2026, 12, 1, 9, tzinfo=UTC)
END = datetime(2026, 12, 1, 17, tzinfo=UTC)
Status = ExceptionWindow.Status


def request_window(actor, team, *, start=START, end=END, now=NOW, **extra):
    return services.exception_window_request(
        actor=actor,
        provider_team=team,
        start=start,
        end=end,
        reason="Data-centre move",
        affected_customers=extra.pop("affected_customers", "EU enterprise customers (40)"),
        communication_plan=extra.pop("communication_plan", "Status page the day before"),
        now=now,
        **extra,
    )


@pytest.fixture
def window(provider_team, provider_member, provider_lead):
    return request_window(provider_member, provider_team)


@pytest.fixture
def signals():
    """Every exception_windows_changed sent: the window as written, and `now`."""
    sent = []

    def receiver(sender, window, now, **kwargs):
        sent.append((window.pk, window.status, window.end, now))

    exception_windows_changed.connect(receiver, weak=False)
    yield sent
    exception_windows_changed.disconnect(receiver)


def inbox(user) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, channel=Channel.IN_APP))


# --- requesting and deciding ---------------------------------------------------------------


def test_a_member_requests_and_another_lead_approves(window, provider_lead):
    assert window.status == Status.REQUESTED
    decided_at = NOW + timedelta(minutes=5)
    services.exception_window_approve(window=window, actor=provider_lead, note="OK", now=decided_at)
    window.refresh_from_db()
    assert (window.status, window.decided_by, window.decided_at) == (
        Status.APPROVED,
        provider_lead,
        decided_at,
    )
    with pytest.raises(Conflict):
        services.exception_window_reject(window=window, actor=provider_lead, now=decided_at)


def test_a_lead_cannot_approve_their_own_request(provider_team, provider_lead):
    own = request_window(provider_lead, provider_team)
    with pytest.raises(PermissionDenied, match="another lead"):
        services.exception_window_approve(window=own, actor=provider_lead, now=NOW)
    own.refresh_from_db()
    assert own.status == Status.REQUESTED
    second = MembershipFactory(team=provider_team, role=Role.LEAD).user
    services.exception_window_approve(window=own, actor=second, now=NOW)
    own.refresh_from_db()
    assert (own.status, own.decided_by) == (Status.APPROVED, second)


def test_staff_may_approve_their_own_request(provider_team, staff):
    own = request_window(staff, provider_team)
    services.exception_window_approve(window=own, actor=staff, now=NOW)
    own.refresh_from_db()
    assert own.status == Status.APPROVED


def test_only_provider_leads_or_staff_decide(window, provider_member, requester_lead, staff):
    for actor in (provider_member, requester_lead):
        with pytest.raises(PermissionDenied):
            services.exception_window_approve(window=window, actor=actor, now=NOW)
    services.exception_window_reject(window=window, actor=staff, note="Not now", now=NOW)
    window.refresh_from_db()
    assert window.status == Status.REJECTED


def test_only_provider_members_request(provider_team, requester):
    with pytest.raises(PermissionDenied):
        request_window(requester, provider_team)


def test_a_window_covers_its_agreement_or_all_of_the_teams(
    provider_team, requesting_team, provider_member, other_team
):
    mine = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team
    )
    other = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=other_team
    )
    team_wide = request_window(provider_member, provider_team)
    scoped = request_window(provider_member, provider_team, series=mine.series)
    assert set(ExceptionWindow.objects.covering(mine)) == {team_wide, scoped}
    assert set(ExceptionWindow.objects.covering(other)) == {team_wide}


# --- documentation -------------------------------------------------------------------------


def test_a_window_records_the_documentation_an_exception_needs(window):
    window.refresh_from_db()
    assert window.reason == "Data-centre move"
    assert window.affected_customers == "EU enterprise customers (40)"
    assert window.communication_plan == "Status page the day before"
    assert window.expected_duration == timedelta(hours=8)


def test_affected_customers_and_communication_plan_are_required(provider_team, provider_member):
    with pytest.raises(ValidationError) as caught:
        request_window(
            provider_member, provider_team, affected_customers=" ", communication_plan=""
        )
    assert set(caught.value.message_dict) == {"affected_customers", "communication_plan"}
    assert not ExceptionWindow.objects.exists()


# --- backdating and length -----------------------------------------------------------------


def test_a_window_may_start_at_most_seven_days_in_the_past(provider_team, provider_member):
    request_window(provider_member, provider_team, start=NOW - timedelta(days=7), end=NOW, now=NOW)
    with pytest.raises(ValidationError) as caught:
        request_window(
            provider_member,
            provider_team,
            start=NOW - timedelta(days=7, minutes=1),
            end=NOW,
            now=NOW,
        )
    assert list(caught.value.message_dict) == ["start"]
    assert "at most 7 days before now" in caught.value.message_dict["start"][0]


def test_a_window_lasts_at_most_fourteen_days(provider_team, provider_member):
    request_window(provider_member, provider_team, end=START + timedelta(days=14))
    with pytest.raises(ValidationError) as caught:
        request_window(provider_member, provider_team, end=START + timedelta(days=14, seconds=1))
    assert list(caught.value.message_dict) == ["end"]
    assert "at most 14 days" in caught.value.message_dict["end"][0]


def test_the_limits_come_from_the_settings(settings, provider_team, provider_member):
    settings.EXCEPTION_WINDOW_MAX_BACKDATE = timedelta(days=1)
    settings.EXCEPTION_WINDOW_MAX_LENGTH = timedelta(hours=4)
    with pytest.raises(ValidationError) as caught:
        request_window(
            provider_member, provider_team, start=NOW - timedelta(days=2), end=NOW, now=NOW
        )
    assert set(caught.value.message_dict) == {"start", "end"}
    assert "at most 1 day before now" in caught.value.message_dict["start"][0]
    assert "at most 4 hours" in caught.value.message_dict["end"][0]


def test_the_backdating_limit_is_checked_again_at_approval(
    provider_team, provider_member, provider_lead
):
    # Asked for on time (six days back), approved three days later: it would now reach
    # nine days back, past the limit.
    window = request_window(
        provider_member, provider_team, start=NOW - timedelta(days=6), end=NOW, now=NOW
    )
    with pytest.raises(ValidationError) as caught:
        services.exception_window_approve(
            window=window, actor=provider_lead, now=NOW + timedelta(days=3)
        )
    assert list(caught.value.message_dict) == ["start"]
    window.refresh_from_db()
    assert window.status == Status.REQUESTED
    # Refusing it is still possible.
    services.exception_window_reject(window=window, actor=provider_lead, now=NOW)


# --- notifications -------------------------------------------------------------------------


def test_the_other_leads_are_asked_to_decide(provider_team, provider_lead, provider_member):
    second = MembershipFactory(team=provider_team, role=Role.LEAD, user__username="leo").user
    window = request_window(provider_lead, provider_team)
    [note] = inbox(second)
    assert note.kind == Kind.WINDOW
    assert note.dedup_key == f"window:{window.pk}:requested:{Channel.IN_APP}:{second.pk}"
    assert "Exception window to decide" in note.title
    assert "EU enterprise customers" in note.body
    assert (note.subject_type, note.subject_id) == ("exception_window", window.pk)
    assert inbox(provider_lead) == []  # the requester decides nothing
    assert inbox(provider_member) == []


def test_a_team_whose_only_lead_asks_has_staff_decide(provider_team, provider_lead, staff):
    request_window(provider_lead, provider_team)
    assert [n.kind for n in inbox(staff)] == [Kind.WINDOW]


def test_the_requester_hears_of_the_approval_and_of_a_refusal(
    provider_team, provider_member, provider_lead
):
    first = request_window(provider_member, provider_team)
    second = request_window(provider_member, provider_team)
    services.exception_window_approve(window=first, actor=provider_lead, now=NOW)
    services.exception_window_reject(window=second, actor=provider_lead, note="Too broad", now=NOW)
    titles = sorted(n.title.split(":")[0] for n in inbox(provider_member))
    assert titles == ["Exception window approved", "Exception window refused"]
    refused = next(n for n in inbox(provider_member) if "refused" in n.title)
    assert "Too broad" in refused.body
    assert refused.dedup_key.startswith(f"window:{second.pk}:rejected:")


# --- ending early --------------------------------------------------------------------------


@pytest.fixture
def approved(window, provider_lead):
    return services.exception_window_approve(window=window, actor=provider_lead, now=NOW)


def test_ending_a_window_under_way_ends_it_now(approved, provider_lead, signals):
    noon = datetime(2026, 12, 1, 12, tzinfo=UTC)
    ended = services.exception_window_end(
        window=approved, actor=provider_lead, now=noon, note="Back up early"
    )
    ended.refresh_from_db()
    assert (ended.status, ended.start, ended.end, ended.planned_end) == (
        Status.APPROVED,
        START,
        noon,
        END,
    )
    assert (ended.ended_by, ended.ended_at, ended.end_note) == (
        provider_lead,
        noon,
        "Back up early",
    )
    assert ended.expected_duration == END - START  # what had been approved
    assert signals == [(ended.pk, Status.APPROVED, noon, noon)]


def test_ending_a_window_before_it_starts_cancels_it(approved, provider_member, signals):
    # The requester may end their own window.
    cancelled = services.exception_window_end(window=approved, actor=provider_member, now=NOW)
    cancelled.refresh_from_db()
    assert (cancelled.status, cancelled.end, cancelled.planned_end) == (
        Status.CANCELLED,
        END,
        None,
    )
    assert cancelled.ended_by == provider_member
    assert signals == [(cancelled.pk, Status.CANCELLED, END, NOW)]
    assert not ExceptionWindow.objects.approved().exists()


def test_withdrawing_a_request_cancels_it_without_moving_clocks(window, provider_member, signals):
    services.exception_window_end(window=window, actor=provider_member, now=NOW)
    window.refresh_from_db()
    assert window.status == Status.CANCELLED
    assert signals == []


def test_who_may_end_a_window(approved, provider_team, requester_lead, outsider, staff):
    other_member = MembershipFactory(team=provider_team).user
    for actor in (other_member, requester_lead, outsider):
        with pytest.raises(PermissionDenied):
            services.exception_window_end(window=approved, actor=actor, now=NOW)
    services.exception_window_end(window=approved, actor=staff, now=NOW)


def test_a_window_that_is_over_refused_or_cancelled_cannot_be_ended(
    approved, provider_team, provider_member, provider_lead
):
    with pytest.raises(Conflict, match="already ended"):
        services.exception_window_end(window=approved, actor=provider_lead, now=END)
    refused = request_window(provider_member, provider_team)
    services.exception_window_reject(window=refused, actor=provider_lead, now=NOW)
    with pytest.raises(Conflict, match="rejected"):
        services.exception_window_end(window=refused, actor=provider_lead, now=NOW)
    services.exception_window_end(window=approved, actor=provider_lead, now=NOW)
    with pytest.raises(Conflict, match="cancelled"):
        services.exception_window_end(window=approved, actor=provider_lead, now=NOW)


def test_an_ended_window_cannot_be_ended_twice(approved, provider_lead):
    noon = datetime(2026, 12, 1, 12, tzinfo=UTC)
    services.exception_window_end(window=approved, actor=provider_lead, now=noon)
    with pytest.raises(Conflict, match="already ended"):
        services.exception_window_end(window=approved, actor=provider_lead, now=noon)


def test_the_requester_and_approver_hear_that_a_window_ended(
    approved, provider_team, provider_member, provider_lead
):
    second = MembershipFactory(team=provider_team, role=Role.LEAD).user
    noon = datetime(2026, 12, 1, 12, tzinfo=UTC)
    services.exception_window_end(window=approved, actor=second, now=noon)
    assert any("ended early" in n.title for n in inbox(provider_member))
    assert any("ended early" in n.title for n in inbox(provider_lead))


# --- the signal ----------------------------------------------------------------------------


def test_approving_signals_inside_the_transaction_and_requesting_or_refusing_does_not(
    provider_team, provider_member, provider_lead, signals
):
    first = request_window(provider_member, provider_team)
    second = request_window(provider_member, provider_team)
    assert signals == []
    services.exception_window_reject(window=second, actor=provider_lead, now=NOW)
    assert signals == []
    services.exception_window_approve(window=first, actor=provider_lead, now=NOW)
    # Sent after the row was written (the receiver sees it approved); that it is inside
    # the transaction is pinned by the next test.
    assert signals == [(first.pk, Status.APPROVED, END, NOW)]


def test_a_failing_receiver_rolls_the_approval_back(window, provider_lead):
    def broken(sender, **kwargs):
        raise RuntimeError("recompute failed")

    exception_windows_changed.connect(broken, weak=False)
    try:
        with pytest.raises(RuntimeError):
            services.exception_window_approve(window=window, actor=provider_lead, now=NOW)
    finally:
        exception_windows_changed.disconnect(broken)
    window.refresh_from_db()
    assert window.status == Status.REQUESTED


def test_services_default_now_to_the_current_time(provider_team, provider_member, provider_lead):
    from django.utils import timezone

    start = timezone.now() + timedelta(hours=1)
    window = services.exception_window_request(
        actor=provider_member,
        provider_team=provider_team,
        start=start,
        end=start + timedelta(hours=2),
        reason="Upgrade",
        affected_customers="None",
        communication_plan="Stand-up",
    )
    before = timezone.now()
    services.exception_window_approve(window=window, actor=provider_lead)
    window.refresh_from_db()
    assert window.decided_at >= before


def test_a_user_cannot_be_both_requester_and_approver_even_as_two_roles(
    provider_team, requesting_team
):
    # A lead of both teams is still the requester.
    both = UserFactory(username="bea")
    MembershipFactory(team=provider_team, user=both, role=Role.LEAD)
    MembershipFactory(team=requesting_team, user=both, role=Role.LEAD)
    own = request_window(both, provider_team)
    with pytest.raises(PermissionDenied):
        services.exception_window_approve(window=own, actor=both, now=NOW)
