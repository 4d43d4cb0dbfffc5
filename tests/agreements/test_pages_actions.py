"""Lifecycle actions through the POST views, and who may use them."""

import pytest
from django.urls import reverse

from apps.agreements import services
from apps.agreements.models import Agreement, AgreementApproval, Status
from apps.teams.models import Role
from tests.factories import (
    AgreementFactory,
    AgreementSeriesFactory,
    MembershipFactory,
    UserFactory,
    standard_targets,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(provider_lead, provider_team, requesting_team):
    return services.agreement_create_draft(
        actor=provider_lead,
        provider_team=provider_team,
        requesting_team=requesting_team,
        title="Escalations",
        targets=standard_targets(),
    )


@pytest.fixture
def in_review(draft, provider_lead):
    return services.agreement_submit(agreement=draft, actor=provider_lead)


@pytest.fixture
def active(provider_team, requesting_team):
    series = AgreementSeriesFactory(provider_team=provider_team, requesting_team=requesting_team)
    return AgreementFactory(series=series, title="Escalations")


def post(client, name: str, agreement: Agreement, data=None, follow=False):
    return client.post(
        reverse(f"agreements:{name}", args=[agreement.pk]), data or {}, follow=follow
    )


def status_of(agreement: Agreement) -> str:
    return Agreement.objects.get(pk=agreement.pk).status


def test_full_lifecycle_submit_approve_by_both_leads(client, draft, provider_lead, requester_lead):
    client.force_login(requester_lead)
    response = post(client, "submit", draft, follow=True)
    assert response.redirect_chain[-1][0] == draft.get_absolute_url()
    assert "submitted" in response.content.decode()
    assert status_of(draft) == Status.IN_REVIEW

    response = post(client, "approve", draft, {"comment": "Fine by Support"}, follow=True)
    assert "Approved for Support. Waiting for the other team" in response.content.decode()
    approval = AgreementApproval.objects.get(agreement=draft)
    assert (approval.team.slug, approval.user, approval.comment) == (
        "support",
        requester_lead,
        "Fine by Support",
    )
    assert status_of(draft) == Status.IN_REVIEW

    client.force_login(provider_lead)
    response = post(client, "approve", draft, follow=True)
    assert "Version 1 is now active" in response.content.decode()
    assert status_of(draft) == Status.ACTIVE


def test_a_lead_of_both_teams_approves_once_for_both(
    client, in_review, provider_team, requesting_team
):
    both = UserFactory(username="bea")
    MembershipFactory(team=provider_team, user=both, role=Role.LEAD)
    MembershipFactory(team=requesting_team, user=both, role=Role.LEAD)
    client.force_login(both)
    html = client.get(in_review.get_absolute_url()).content.decode()
    assert "Approve for Engineering and Support" in html
    response = post(client, "approve", in_review, follow=True)
    assert "Approved for Engineering and Support. Version 1 is now active." in (
        response.content.decode()
    )
    assert status_of(in_review) == Status.ACTIVE
    assert sorted(
        AgreementApproval.objects.filter(agreement=in_review).values_list("team__slug", flat=True)
    ) == ["engineering", "support"]


def test_approving_twice_is_a_message_not_an_error(client, in_review, provider_lead):
    client.force_login(provider_lead)
    post(client, "approve", in_review)
    response = post(client, "approve", in_review, follow=True)
    assert response.status_code == 200
    assert "already approved" in response.content.decode()
    assert AgreementApproval.objects.filter(agreement=in_review).count() == 1


def test_request_changes_sends_the_version_back_to_draft(
    client, in_review, provider_lead, requester_lead
):
    client.force_login(provider_lead)
    post(client, "approve", in_review)
    client.force_login(requester_lead)
    response = post(client, "request-changes", in_review, {"comment": "P2 is too tight"})
    assert response.status_code == 302
    in_review.refresh_from_db()
    assert in_review.status == Status.DRAFT
    assert "P2 is too tight" in in_review.change_summary
    assert not in_review.approvals.exists()


def test_amend_opens_the_next_version_in_the_editor(client, active, requester_lead):
    client.force_login(requester_lead)
    response = post(client, "amend", active)
    new = Agreement.objects.get(series=active.series, version=2)
    assert response.status_code == 302
    assert response["Location"] == reverse("agreements:edit", args=[new.pk])
    assert new.status == Status.DRAFT
    assert status_of(active) == Status.ACTIVE
    # A second amend while v2 is open is refused with a message.
    response = post(client, "amend", active, follow=True)
    assert response.redirect_chain[-1][0] == active.get_absolute_url()
    assert "already being prepared" in response.content.decode()
    assert Agreement.objects.filter(series=active.series).count() == 2


def test_retire_with_a_reason(client, active, provider_lead):
    client.force_login(provider_lead)
    response = post(client, "retire", active, {"reason": "Replaced by the new tooling"})
    assert response.status_code == 302
    active.refresh_from_db()
    assert active.status == Status.RETIRED
    assert "Replaced by the new tooling" in active.change_summary
    assert active.ended_at is not None


@pytest.mark.parametrize(
    ("action", "fixture"),
    [
        ("submit", "active"),
        ("approve", "active"),
        ("approve", "draft"),
        ("request-changes", "draft"),
        ("amend", "draft"),
    ],
)
def test_an_action_the_status_does_not_allow_is_a_message(
    client, request, provider_lead, action, fixture
):
    agreement = request.getfixturevalue(fixture)
    before = status_of(agreement)
    client.force_login(provider_lead)
    response = post(client, action, agreement, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == agreement.get_absolute_url()
    assert "alert-danger" in response.content.decode()
    assert status_of(agreement) == before


def test_retiring_twice_is_a_message(client, active, provider_lead):
    client.force_login(provider_lead)
    post(client, "retire", active)
    response = post(client, "retire", active, follow=True)
    assert response.status_code == 200
    assert "already retired" in response.content.decode()


def test_submitting_a_draft_without_tiers_is_a_message(
    client, provider_lead, provider_team, requesting_team
):
    empty = services.agreement_create_draft(
        actor=provider_lead,
        provider_team=provider_team,
        requesting_team=requesting_team,
        title="Empty",
    )
    client.force_login(provider_lead)
    response = post(client, "submit", empty, follow=True)
    assert "at least one priority tier" in response.content.decode()
    assert status_of(empty) == Status.DRAFT


# --- permission matrix ---------------------------------------------------------------------

ACTIONS = ["submit", "approve", "request-changes", "amend", "retire"]


@pytest.mark.parametrize("action", ACTIONS)
def test_anonymous_visitors_are_sent_to_sign_in(client, active, action):
    response = post(client, action, active)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert status_of(active) == Status.ACTIVE


@pytest.mark.parametrize("action", ACTIONS)
def test_outsider_gets_403_on_visible_versions_and_404_on_drafts(
    client, outsider, active, draft, action
):
    client.force_login(outsider)
    # The active version is public; the draft is Engineering's and Support's business.
    assert post(client, action, active).status_code == 403
    assert post(client, action, draft).status_code == 404
    assert status_of(active) == Status.ACTIVE
    assert status_of(draft) == Status.DRAFT


@pytest.mark.parametrize("user", ["provider_member", "requester"])
@pytest.mark.parametrize(
    ("action", "fixture"),
    [
        ("submit", "draft"),
        ("approve", "in_review"),
        ("request-changes", "in_review"),
        ("amend", "active"),
        ("retire", "active"),
        ("retire", "draft"),
    ],
)
def test_members_who_do_not_lead_cannot_act(client, request, user, action, fixture):
    agreement = request.getfixturevalue(fixture)
    before = status_of(agreement)
    client.force_login(request.getfixturevalue(user))
    assert post(client, action, agreement).status_code == 403
    assert status_of(agreement) == before
    assert not AgreementApproval.objects.filter(agreement=agreement).exists()


def test_staff_who_leads_no_team_cannot_approve(client, staff, in_review):
    client.force_login(staff)
    assert post(client, "approve", in_review).status_code == 403
    assert status_of(in_review) == Status.IN_REVIEW


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_are_post_only(client, provider_lead, active, action):
    client.force_login(provider_lead)
    response = client.get(reverse(f"agreements:{action}", args=[active.pk]))
    assert response.status_code == 405
