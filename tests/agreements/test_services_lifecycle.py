"""The agreement lifecycle: draft → in_review → active → superseded | retired."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.agreements import services
from apps.agreements.models import Agreement, AgreementApproval, Status
from apps.core.exceptions import Conflict
from apps.teams.models import Role
from tests.factories import (
    MembershipFactory,
    standard_steps,
    standard_targets,
    standard_triage,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(provider_team, requesting_team, requester_lead):
    return services.agreement_create_draft(
        actor=requester_lead,
        provider_team=provider_team,
        requesting_team=requesting_team,
        title="Support → Engineering",
        targets=standard_targets(),
        triage_fields=standard_triage(),
        steps=standard_steps(),
    )


def activate(agreement, *leads):
    services.agreement_submit(agreement=agreement, actor=leads[0])
    for lead in leads:
        services.agreement_approve(agreement=agreement, actor=lead)
    agreement.refresh_from_db()
    return agreement


def test_a_new_draft_is_version_one_on_the_provider_calendar(draft, provider_team):
    assert (draft.version, draft.status) == (1, Status.DRAFT)
    assert draft.calendar == provider_team.calendar
    assert draft.targets.count() == 4
    assert list(draft.triage_fields.values_list("key", flat=True)) == [
        "steps",
        "environment",
        "logs",
    ]


def test_only_a_lead_of_either_team_may_draft(provider_team, requesting_team, provider_member):
    with pytest.raises(PermissionDenied):
        services.agreement_create_draft(
            actor=provider_member,
            provider_team=provider_team,
            requesting_team=requesting_team,
            title="x",
            targets=standard_targets(),
        )


def test_both_leads_must_approve_before_it_becomes_active(draft, provider_lead, requester_lead):
    services.agreement_submit(agreement=draft, actor=requester_lead)
    services.agreement_approve(agreement=draft, actor=requester_lead)
    draft.refresh_from_db()
    assert draft.status == Status.IN_REVIEW
    services.agreement_approve(agreement=draft, actor=provider_lead)
    draft.refresh_from_db()
    assert draft.status == Status.ACTIVE
    assert draft.activated_at is not None
    assert draft.next_review_date is not None
    assert set(draft.approvals.values_list("team__slug", flat=True)) == {
        "engineering",
        "support",
    }


def test_a_person_leading_both_teams_approves_for_both_at_once(
    draft, provider_team, requester_lead
):
    MembershipFactory(team=provider_team, user=requester_lead, role=Role.LEAD)
    services.agreement_submit(agreement=draft, actor=requester_lead)
    services.agreement_approve(agreement=draft, actor=requester_lead)
    draft.refresh_from_db()
    assert draft.status == Status.ACTIVE
    assert AgreementApproval.objects.filter(agreement=draft).count() == 2


def test_the_same_lead_cannot_approve_twice(draft, requester_lead):
    services.agreement_submit(agreement=draft, actor=requester_lead)
    services.agreement_approve(agreement=draft, actor=requester_lead)
    with pytest.raises(Conflict, match="already approved"):
        services.agreement_approve(agreement=draft, actor=requester_lead)


def test_a_member_cannot_approve(draft, requester_lead, provider_member):
    services.agreement_submit(agreement=draft, actor=requester_lead)
    with pytest.raises(PermissionDenied):
        services.agreement_approve(agreement=draft, actor=provider_member)


def test_a_draft_cannot_be_approved_before_it_is_submitted(draft, requester_lead):
    with pytest.raises(Conflict):
        services.agreement_approve(agreement=draft, actor=requester_lead)


def test_submitting_needs_at_least_one_tier(provider_team, requesting_team, requester_lead):
    empty = services.agreement_create_draft(
        actor=requester_lead,
        provider_team=provider_team,
        requesting_team=requesting_team,
        title="Empty",
    )
    with pytest.raises(ValidationError) as caught:
        services.agreement_submit(agreement=empty, actor=requester_lead)
    assert "targets" in caught.value.message_dict


def test_amending_copies_everything_and_the_active_version_keeps_governing(
    draft, provider_lead, requester_lead
):
    active = activate(draft, requester_lead, provider_lead)
    amended = services.agreement_amend(agreement=active, actor=provider_lead)
    active.refresh_from_db()
    assert (amended.version, amended.status) == (2, Status.DRAFT)
    assert active.status == Status.ACTIVE
    assert amended.series_id == active.series_id
    for relation in ("targets", "triage_fields", "escalation_steps"):
        fields = {
            "targets": ("priority", "acknowledge_seconds", "resolve_seconds"),
            "triage_fields": ("key", "kind", "choices"),
            "escalation_steps": ("metric", "percent", "notify"),
        }[relation]
        assert list(getattr(amended, relation).values_list(*fields)) == list(
            getattr(active, relation).values_list(*fields)
        )
    assert not amended.approvals.exists()


def test_approving_the_amendment_supersedes_the_previous_version_in_one_step(
    draft, provider_lead, requester_lead
):
    v1 = activate(draft, requester_lead, provider_lead)
    v2 = services.agreement_amend(agreement=v1, actor=provider_lead)
    targets = standard_targets()
    targets[0]["acknowledge_seconds"] = 15 * 60
    services.agreement_update_draft(agreement=v2, actor=provider_lead, targets=targets)
    activate(v2, provider_lead, requester_lead)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == (Status.SUPERSEDED, Status.ACTIVE)
    assert v1.ended_at == v2.activated_at
    assert v2.target_for("P1").acknowledge_seconds == 900
    assert v1.target_for("P1").acknowledge_seconds == 1800
    assert Agreement.objects.filter(series=v1.series, status=Status.ACTIVE).count() == 1


def test_only_one_amendment_at_a_time(draft, provider_lead, requester_lead):
    active = activate(draft, requester_lead, provider_lead)
    services.agreement_amend(agreement=active, actor=provider_lead)
    with pytest.raises(Conflict, match="already being prepared"):
        services.agreement_amend(agreement=active, actor=requester_lead)


def test_active_and_superseded_versions_are_immutable(draft, provider_lead, requester_lead):
    active = activate(draft, requester_lead, provider_lead)
    with pytest.raises(Conflict, match="only a draft can be edited"):
        services.agreement_update_draft(agreement=active, actor=provider_lead, title="Changed")
    active.refresh_from_db()
    assert active.title == "Support → Engineering"


def test_request_changes_sends_a_version_back_to_draft_without_approvals(
    draft, provider_lead, requester_lead
):
    services.agreement_submit(agreement=draft, actor=requester_lead)
    services.agreement_approve(agreement=draft, actor=requester_lead)
    services.agreement_request_changes(
        agreement=draft, actor=provider_lead, comment="P1 resolve is too tight"
    )
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT
    assert not draft.approvals.exists()
    assert "P1 resolve is too tight" in draft.change_summary


def test_retiring_ends_an_active_version_and_keeps_it(draft, provider_lead, requester_lead):
    active = activate(draft, requester_lead, provider_lead)
    services.agreement_retire(agreement=active, actor=requester_lead, reason="Team merged")
    active.refresh_from_db()
    assert active.status == Status.RETIRED
    assert active.ended_at is not None
    with pytest.raises(Conflict):
        services.agreement_retire(agreement=active, actor=requester_lead)
    with pytest.raises(Conflict):
        services.agreement_amend(agreement=active, actor=requester_lead)


def test_outsiders_cannot_change_anything(draft, outsider):
    for change in (
        lambda: services.agreement_update_draft(agreement=draft, actor=outsider, title="x"),
        lambda: services.agreement_submit(agreement=draft, actor=outsider),
        lambda: services.agreement_retire(agreement=draft, actor=outsider),
    ):
        with pytest.raises(PermissionDenied):
            change()
    draft.refresh_from_db()
    assert (draft.title, draft.status) == ("Support → Engineering", Status.DRAFT)


def test_versions_in_preparation_are_visible_only_to_the_two_teams(
    draft, provider_member, requester, outsider, staff, provider_lead, requester_lead
):
    def visible(user):
        return Agreement.objects.visible_to(user).filter(pk=draft.pk).exists()

    assert visible(provider_member) and visible(requester) and visible(staff)
    assert not visible(outsider)
    activate(draft, requester_lead, provider_lead)
    assert visible(outsider)
