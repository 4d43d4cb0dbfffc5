"""Rules added to the agreement services: a ladder that raises the priority needs the next
tier up; a draft identical to the active version is not submitted; every service takes
`now`."""

from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError

from apps.agreements import services
from apps.agreements.models import Agreement, Status
from apps.core.exceptions import Conflict
from tests.factories import standard_steps, standard_targets, standard_triage

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 2, 10, tzinfo=UTC)
RAISE = {"metric": "resolve", "percent": 100, "notify": "provider_lead", "raise_priority": True}


def tiers(*priorities) -> list[dict]:
    return [t for t in standard_targets() if t["priority"] in priorities]


def create(provider_team, requesting_team, actor, **overrides):
    spec = dict(
        actor=actor,
        provider_team=provider_team,
        requesting_team=requesting_team,
        title="Escalations",
        targets=standard_targets(),
        triage_fields=standard_triage(),
        steps=standard_steps(),
    )
    spec.update(overrides)
    return services.agreement_create_draft(**spec)


# --- a ladder that cannot be applied --------------------------------------------------------


def test_raising_needs_the_next_tier_up(provider_team, requesting_team, requester_lead):
    with pytest.raises(ValidationError) as caught:
        create(
            provider_team,
            requesting_team,
            requester_lead,
            targets=tiers("P3", "P4"),
            steps=[{"metric": "resolve", "percent": 75, "notify": "assignee"}, RAISE],
        )
    assert caught.value.message_dict == {
        "steps.1.raise_priority": [
            "Raising the priority needs P2 defined: a P3 handoff could not be raised."
        ]
    }
    assert not Agreement.objects.exists()


def test_every_gap_in_the_tiers_is_named(provider_team, requesting_team, requester_lead):
    with pytest.raises(ValidationError) as caught:
        create(
            provider_team,
            requesting_team,
            requester_lead,
            targets=tiers("P2", "P4"),
            steps=[RAISE],
        )
    assert caught.value.message_dict["steps.0.raise_priority"] == [
        "Raising the priority needs P1 defined: a P2 handoff could not be raised.",
        "Raising the priority needs P3 defined: a P4 handoff could not be raised.",
    ]


@pytest.mark.parametrize(
    "priorities", [("P1", "P2", "P3", "P4"), ("P1",), ("P1", "P2"), ("P1", "P2", "P3")]
)
def test_a_ladder_with_room_to_raise_is_accepted(
    provider_team, requesting_team, requester_lead, priorities
):
    # P1 is the top: a P1 handoff simply stays P1.
    draft = create(
        provider_team, requesting_team, requester_lead, targets=tiers(*priorities), steps=[RAISE]
    )
    assert draft.escalation_steps.get().raise_priority


def test_tiers_with_gaps_are_fine_without_a_raise(provider_team, requesting_team, requester_lead):
    steps = [{**RAISE, "raise_priority": False}]
    draft = create(
        provider_team, requesting_team, requester_lead, targets=tiers("P2", "P3"), steps=steps
    )
    assert draft.targets.count() == 2


def test_removing_a_tier_under_a_raising_ladder_is_refused_on_update(
    provider_team, requesting_team, requester_lead
):
    draft = create(provider_team, requesting_team, requester_lead)  # P1-P4, raise at 100 %
    with pytest.raises(ValidationError) as caught:
        services.agreement_update_draft(
            agreement=draft, actor=requester_lead, targets=tiers("P3", "P4")
        )
    assert list(caught.value.message_dict) == ["steps.1.raise_priority"]
    assert draft.targets.count() == 4


# --- nothing changed --------------------------------------------------------------------------


@pytest.fixture
def active(provider_team, requesting_team, requester_lead, provider_lead):
    draft = create(provider_team, requesting_team, requester_lead)
    services.agreement_submit(agreement=draft, actor=requester_lead)
    services.agreement_approve(agreement=draft, actor=requester_lead)
    return services.agreement_approve(agreement=draft, actor=provider_lead)


def test_a_draft_identical_to_the_active_version_is_not_submitted(active, provider_lead):
    draft = services.agreement_amend(agreement=active, actor=provider_lead)
    # A new change summary alone describes no change of the agreement.
    services.agreement_update_draft(
        agreement=draft, actor=provider_lead, change_summary="Nothing really"
    )
    with pytest.raises(Conflict, match="Nothing changed since version 1"):
        services.agreement_submit(agreement=draft, actor=provider_lead)
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


@pytest.mark.parametrize(
    "change",
    [
        {"warning_threshold": 60},
        {"targets": tiers("P1", "P2", "P3")},
        {"steps": standard_steps()[:1]},
        {"triage_fields": standard_triage()[:2]},
    ],
)
def test_any_real_change_may_be_submitted(active, provider_lead, change):
    draft = services.agreement_amend(agreement=active, actor=provider_lead)
    services.agreement_update_draft(agreement=draft, actor=provider_lead, **change)
    submitted = services.agreement_submit(agreement=draft, actor=provider_lead)
    assert submitted.status == Status.IN_REVIEW


def test_a_first_version_has_nothing_to_compare_with(
    provider_team, requesting_team, requester_lead
):
    draft = create(provider_team, requesting_team, requester_lead)
    assert services.agreement_submit(agreement=draft, actor=requester_lead).status == "in_review"


# --- now ----------------------------------------------------------------------------------------


def test_the_lifecycle_records_the_now_it_is_given(
    provider_team, requesting_team, requester_lead, provider_lead
):
    draft = create(provider_team, requesting_team, requester_lead, now=NOW)
    services.agreement_submit(agreement=draft, actor=requester_lead, now=NOW)
    services.agreement_approve(agreement=draft, actor=requester_lead, now=NOW)
    services.agreement_approve(agreement=draft, actor=provider_lead, now=NOW)
    draft.refresh_from_db()
    assert (draft.submitted_at, draft.activated_at) == (NOW, NOW)
    assert draft.next_review_date == date(2027, 2, 2)  # three months after NOW
    assert {a.approved_at for a in draft.approvals.all()} == {NOW}

    amended = services.agreement_amend(agreement=draft, actor=provider_lead, now=NOW)
    services.agreement_update_draft(
        agreement=amended, actor=provider_lead, warning_threshold=50, now=NOW
    )
    services.agreement_submit(agreement=amended, actor=provider_lead, now=NOW)
    services.agreement_request_changes(agreement=amended, actor=provider_lead, now=NOW)
    later = datetime(2026, 12, 24, tzinfo=UTC)
    services.agreement_retire(agreement=draft, actor=provider_lead, now=later)
    draft.refresh_from_db()
    assert draft.ended_at == later
