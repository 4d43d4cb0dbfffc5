"""An agreement version's lifecycle tells the people who must act (issue 13, item 1):
submitted → the leads who must approve (APPROVAL); approved, activated → both teams'
leads (AGREEMENT); changes requested → the author (AGREEMENT). Never the actor, each
once; a resubmission asks again. And a withdrawn exception-window request tells those
who were asked to decide."""

from datetime import timedelta

import pytest

from apps.agreements import services
from apps.notifications.models import Channel, Kind, Notification
from apps.teams.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import MONDAY_10

pytestmark = pytest.mark.django_db


def inbox(user) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, channel=Channel.IN_APP).order_by("id"))


def kinds(user) -> list[str]:
    return [n.kind for n in inbox(user)]


@pytest.fixture
def second_provider_lead(provider_team):
    return MembershipFactory(
        team=provider_team, user=UserFactory(username="leo"), role=Role.LEAD
    ).user


@pytest.fixture
def draft(agreement, requester_lead):
    """Version 2 of Support → Engineering, amended by Support's lead Rob, with a change."""
    draft = services.agreement_amend(agreement=agreement, actor=requester_lead, now=MONDAY_10)
    services.agreement_update_draft(
        agreement=draft,
        actor=requester_lead,
        playbook="Page the on-call engineer first.",
        change_summary="P1s page the on-call engineer.",
    )
    return draft


@pytest.fixture
def submitted(draft, requester_lead, provider_lead, second_provider_lead):
    return services.agreement_submit(agreement=draft, actor=requester_lead, now=MONDAY_10)


def test_submitting_asks_the_leads_who_must_approve_and_not_the_submitter(
    submitted, requester_lead, provider_lead, second_provider_lead, provider_member, requester
):
    for lead in (provider_lead, second_provider_lead):
        [note] = inbox(lead)
        assert note.kind == Kind.APPROVAL
        assert note.title == f"Approve {submitted.title} v2: Support → Engineering"
        assert requester_lead.display_name in note.body
        assert "P1s page the on-call engineer." in note.body
        assert note.url == submitted.get_absolute_url()
        assert (note.subject_type, note.subject_id) == ("agreement", submitted.pk)
    # Rob submitted: he knows. Members approve nothing.
    assert inbox(requester_lead) == []
    assert inbox(provider_member) == inbox(requester) == []


def test_a_second_requesting_lead_is_asked_too(draft, requester_lead, requesting_team):
    other = MembershipFactory(team=requesting_team, role=Role.LEAD, user__username="ria").user
    services.agreement_submit(agreement=draft, actor=requester_lead, now=MONDAY_10)
    assert kinds(other) == [Kind.APPROVAL]


def test_one_sides_approval_tells_both_teams_leads_what_is_still_awaited(
    submitted, requester_lead, provider_lead, second_provider_lead, requesting_team
):
    co_lead = MembershipFactory(team=requesting_team, role=Role.LEAD, user__username="ria").user
    later = MONDAY_10 + timedelta(hours=1)
    services.agreement_approve(
        agreement=submitted, actor=requester_lead, comment="Fine by us", now=later
    )
    [note] = [n for n in inbox(provider_lead) if n.kind == Kind.AGREEMENT]
    assert note.title == f"{submitted} approved for Support"
    assert "waits on Engineering's approval" in note.body
    assert "Fine by us" in note.body
    assert kinds(co_lead) == [Kind.AGREEMENT]
    assert Kind.AGREEMENT not in kinds(requester_lead)  # the approver


def test_activation_tells_both_teams_leads_once(
    submitted, requester_lead, provider_lead, second_provider_lead
):
    services.agreement_approve(agreement=submitted, actor=requester_lead, now=MONDAY_10)
    services.agreement_approve(
        agreement=submitted, actor=provider_lead, now=MONDAY_10 + timedelta(hours=2)
    )
    submitted.refresh_from_db()
    assert submitted.status == "active"
    activated = [n for n in inbox(requester_lead) if n.kind == Kind.AGREEMENT]
    assert [n.title for n in activated] == [f"{submitted} is active: Support → Engineering"]
    assert "now governs new handoffs" in activated[0].body
    # Leo, Engineering's other lead, heard of Support's approval and then of the activation.
    titles = [n.title for n in inbox(second_provider_lead) if n.kind == Kind.AGREEMENT]
    assert titles == [
        f"{submitted} approved for Support",
        f"{submitted} is active: Support → Engineering",
    ]
    # Lena activated it: she is not told what she just did.
    assert all("is active" not in n.title for n in inbox(provider_lead))


def test_changes_requested_tell_the_author_with_the_reason(
    submitted, requester_lead, provider_lead
):
    services.agreement_request_changes(
        agreement=submitted, actor=provider_lead, comment="P2 is too tight", now=MONDAY_10
    )
    [note] = [n for n in inbox(requester_lead) if n.kind == Kind.AGREEMENT]
    assert note.title == f"Changes requested on {submitted}"
    assert "P2 is too tight" in note.body
    assert note.url == submitted.get_absolute_url()


def test_the_author_who_sends_their_own_version_back_is_not_told(submitted, requester_lead):
    services.agreement_request_changes(agreement=submitted, actor=requester_lead, now=MONDAY_10)
    assert inbox(requester_lead) == []


def test_a_resubmission_asks_again_and_each_event_is_told_once(
    submitted, requester_lead, provider_lead
):
    services.agreement_request_changes(agreement=submitted, actor=provider_lead, now=MONDAY_10)
    services.agreement_submit(
        agreement=submitted, actor=requester_lead, now=MONDAY_10 + timedelta(days=1)
    )
    assert kinds(provider_lead) == [Kind.APPROVAL, Kind.APPROVAL]
    keys = [n.dedup_key for n in Notification.objects.filter(subject_id=submitted.pk)]
    assert len(keys) == len(set(keys))


# --- exception windows ---------------------------------------------------------------------


def test_a_withdrawn_window_request_tells_those_asked_to_decide(
    provider_team, provider_member, provider_lead, second_provider_lead
):
    window = services.exception_window_request(
        actor=provider_member,
        provider_team=provider_team,
        start=MONDAY_10 + timedelta(days=1),
        end=MONDAY_10 + timedelta(days=1, hours=4),
        reason="Data-centre move",
        affected_customers="none",
        communication_plan="Status page",
        now=MONDAY_10,
    )
    services.exception_window_end(window=window, actor=provider_member, now=MONDAY_10)
    for lead in (provider_lead, second_provider_lead):
        assert [n.title.split(":")[0] for n in inbox(lead)] == [
            "Exception window to decide",
            "Exception window request withdrawn",
        ]
    assert inbox(provider_member) == []  # who withdrew it


def test_a_request_withdrawn_by_a_lead_tells_its_requester(
    provider_team, provider_member, provider_lead, second_provider_lead
):
    window = services.exception_window_request(
        actor=provider_member,
        provider_team=provider_team,
        start=MONDAY_10 + timedelta(days=1),
        end=MONDAY_10 + timedelta(days=1, hours=4),
        reason="Launch",
        affected_customers="none",
        communication_plan="Status page",
        now=MONDAY_10,
    )
    services.exception_window_end(
        window=window, actor=provider_lead, note="Launch moved", now=MONDAY_10
    )
    [note] = inbox(provider_member)
    assert note.kind == Kind.WINDOW and "Launch moved" in note.body
    assert [n.title.split(":")[0] for n in inbox(second_provider_lead)][-1] == (
        "Exception window request withdrawn"
    )


def test_window_times_are_given_in_each_readers_zone(provider_team, provider_member):
    berlin_lead = MembershipFactory(
        team=provider_team, role=Role.LEAD, user=UserFactory(time_zone="Europe/Berlin")
    ).user
    new_york_lead = MembershipFactory(
        team=provider_team, role=Role.LEAD, user=UserFactory(time_zone="America/New_York")
    ).user
    window = services.exception_window_request(
        actor=provider_member,
        provider_team=provider_team,
        start=MONDAY_10 + timedelta(days=1),  # Tuesday 3 March, 10:00 in Berlin
        end=MONDAY_10 + timedelta(days=1, hours=4),
        reason="Data-centre move",
        affected_customers="none",
        communication_plan="Status page",
        now=MONDAY_10,
    )
    [in_berlin] = inbox(berlin_lead)
    [in_new_york] = inbox(new_york_lead)
    assert in_berlin.title.endswith("Tue 03 Mar 10:00 – Tue 03 Mar 14:00 CET")
    assert in_new_york.title.endswith("Tue 03 Mar 04:00 – Tue 03 Mar 08:00 EST")
    assert "during Tue 03 Mar 04:00 – Tue 03 Mar 08:00 EST" in in_new_york.body
    assert in_berlin.dedup_key == f"window:{window.pk}:requested:{Channel.IN_APP}:{berlin_lead.pk}"
