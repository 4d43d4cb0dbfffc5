"""The review itself: leads start it (pack and recommendations frozen), edit findings,
decisions and proposed targets, and sign it off — one lead per side. With both sides
signed and targets changed, the next agreement version is created and becomes active
(the sign-offs are its approvals), and handoffs filed afterwards bind to it."""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from apps.agreements import services as agreement_services
from apps.agreements.models import Agreement
from apps.agreements.models import Status as AgreementStatus
from apps.core.exceptions import Conflict
from apps.notifications.models import Notification
from apps.reviews import services
from apps.reviews.models import QuarterlyReview, ReviewSignOff, ReviewStatus
from apps.teams.models import Membership, Role
from tests.helpers import MONDAY_10, berlin

from .conftest import REVIEW_DAY

pytestmark = pytest.mark.django_db

HOUR = 3600
# Support and Engineering agree: P2 resolve in 60 h instead of 72 h.
NEW_P2_RESOLVE = 60 * HOUR


@pytest.fixture(autouse=True)
def _review_day():
    # The agreement services stamp approvals and activation with the real clock.
    with time_machine.travel(REVIEW_DAY, tick=False):
        yield


def sign(review, user, at=REVIEW_DAY, **kwargs):
    return services.review_sign_off(review=review, actor=user, now=at, **kwargs)


def propose_p2_resolve(review, user, seconds=NEW_P2_RESOLVE):
    return services.review_update(
        review=review, actor=user, proposed_targets={"P2": {"resolve": seconds}}, now=REVIEW_DAY
    )


def field_errors(excinfo) -> dict:
    return excinfo.value.message_dict


# --- starting ----------------------------------------------------------------------------------


def test_starting_freezes_the_pack_and_proposes_the_current_targets(
    review, requester_lead, file_handoff, provider_member
):
    handoff = file_handoff("P3")
    from apps.handoffs import services as handoff_services

    handoff_services.handoff_acknowledge(
        handoff=handoff, actor=provider_member, now=MONDAY_10 + timedelta(hours=1)
    )

    started = services.review_start(review=review, actor=requester_lead, now=REVIEW_DAY)

    assert started.status == ReviewStatus.IN_PROGRESS
    assert (started.started_at, started.started_by) == (REVIEW_DAY, requester_lead)
    assert started.pack["period"]["handoffs"] == 1
    assert {(r["priority"], r["metric"]) for r in started.recommendations} >= {
        ("P3", "acknowledge"),
        ("P2", "resolve"),
    }
    assert started.proposed_targets["P2"] == {
        "acknowledge": 2 * HOUR,
        "action_plan": 24 * HOUR,
        "resolve": 72 * HOUR,
    }
    assert started.proposed_targets["P4"] == {
        "acknowledge": 24 * HOUR,
        "action_plan": None,
        "resolve": None,
    }
    # Frozen: later handoffs in the period do not move what the review looks at.
    file_handoff("P3", at=MONDAY_10 + timedelta(days=1))
    review.refresh_from_db()
    assert review.pack == started.pack


def test_only_leads_start_a_review_and_only_once(
    review, provider_member, requester, outsider, staff, provider_lead
):
    for user in (provider_member, requester, outsider, staff):
        with pytest.raises(PermissionDenied):
            services.review_start(review=review, actor=user, now=REVIEW_DAY)
    services.review_start(review=review, actor=provider_lead, now=REVIEW_DAY)
    with pytest.raises(Conflict, match="already been started"):
        services.review_start(review=review, actor=provider_lead, now=REVIEW_DAY)


def test_a_review_starts_only_once_its_period_is_over(review, provider_lead):
    # The pack frozen on 10 Feb would claim to cover a quarter that runs to 31 Mar.
    for moment in (berlin(2026, 2, 10, 9, 0), berlin(2026, 3, 31, 23, 59)):
        with pytest.raises(Conflict, match=r"runs until 31 Mar 2026.*started from 1 Apr 2026"):
            services.review_start(review=review, actor=provider_lead, now=moment)
    review.refresh_from_db()
    assert review.status == ReviewStatus.SCHEDULED and review.pack == {}
    # Notes may be written before.
    services.review_update(
        review=review, actor=provider_lead, findings="Agenda", now=berlin(2026, 2, 10, 9, 0)
    )
    started = services.review_start(
        review=review, actor=provider_lead, now=berlin(2026, 4, 1, 0, 0)
    )
    assert started.status == ReviewStatus.IN_PROGRESS


# --- editing -----------------------------------------------------------------------------------


def test_leads_edit_findings_decisions_and_proposed_targets(started_review, requester_lead):
    review = services.review_update(
        review=started_review,
        actor=requester_lead,
        findings="P2 resolve breached 6 times, all in the January release week.",
        decisions="Tighten P2 resolve to 60 h.",
        proposed_targets={"P2": {"resolve": NEW_P2_RESOLVE}},
        now=REVIEW_DAY,
    )
    review.refresh_from_db()
    assert review.findings.startswith("P2 resolve breached")
    assert review.decisions == "Tighten P2 resolve to 60 h."
    # Only what was named changed; the rest of the proposal is kept.
    assert review.proposed_targets["P2"] == {
        "acknowledge": 2 * HOUR,
        "action_plan": 24 * HOUR,
        "resolve": NEW_P2_RESOLVE,
    }
    assert review.proposed_targets["P1"]["resolve"] == 8 * HOUR


@pytest.mark.parametrize(
    ("proposed", "key"),
    [
        ({"P9": {"resolve": HOUR}}, "proposed_targets.P9"),
        ({"P2": {"resolve": -5}}, "proposed_targets.P2.resolve"),
        ({"P2": {"resolve": 0}}, "proposed_targets.P2.resolve"),
        ({"P2": {"resolve": "soon"}}, "proposed_targets.P2.resolve"),
        ({"P2": {"resolve": 1.5}}, "proposed_targets.P2.resolve"),
        ({"P2": {"resolve": True}}, "proposed_targets.P2.resolve"),
        ({"P2": {"resolve": 2**40}}, "proposed_targets.P2.resolve"),
        ({"P2": {"response": HOUR}}, "proposed_targets.P2.response"),
        # A later milestone cannot be due before an earlier one.
        ({"P2": {"action_plan": HOUR}}, "proposed_targets.P2.action_plan"),
        ({"P3": {"resolve": 10 * HOUR}}, "proposed_targets.P3.resolve"),
        ({"P4": {"acknowledge": None}}, "proposed_targets.P4"),
        ({"P2": "fast"}, "proposed_targets.P2"),
    ],
)
def test_bad_proposed_targets_are_refused_on_the_field(
    started_review, provider_lead, proposed, key
):
    with pytest.raises(ValidationError) as excinfo:
        services.review_update(
            review=started_review, actor=provider_lead, proposed_targets=proposed, now=REVIEW_DAY
        )
    assert key in field_errors(excinfo)
    started_review.refresh_from_db()
    assert started_review.proposed_targets["P2"]["resolve"] == 72 * HOUR


def test_best_effort_is_a_valid_proposal(started_review, provider_lead):
    review = services.review_update(
        review=started_review,
        actor=provider_lead,
        proposed_targets={"P3": {"resolve": None}},
        now=REVIEW_DAY,
    )
    assert review.proposed_targets["P3"]["resolve"] is None


def test_members_and_outsiders_cannot_edit(
    started_review, provider_member, requester, outsider, staff
):
    for user in (provider_member, requester, outsider, staff):
        with pytest.raises(PermissionDenied):
            services.review_update(review=started_review, actor=user, findings="x", now=REVIEW_DAY)


def test_a_scheduled_review_takes_notes_but_no_targets_until_started(review, provider_lead):
    services.review_update(review=review, actor=provider_lead, findings="Agenda", now=REVIEW_DAY)
    with pytest.raises(Conflict, match="Start the review first"):
        propose_p2_resolve(review, provider_lead)
    review.refresh_from_db()
    assert review.findings == "Agenda" and review.proposed_targets == {}


def test_changing_what_was_signed_clears_the_sign_offs(
    started_review, provider_lead, requester_lead
):
    review = sign(started_review, provider_lead)
    assert review.status == ReviewStatus.AWAITING_SIGN_OFF

    # Findings are notes: the signature stands.
    review = services.review_update(
        review=review, actor=requester_lead, findings="More notes", now=REVIEW_DAY
    )
    assert review.status == ReviewStatus.AWAITING_SIGN_OFF
    assert review.sign_offs.count() == 1
    # Proposing the same targets again changes nothing either.
    review = services.review_update(
        review=review,
        actor=requester_lead,
        proposed_targets={"P2": {"resolve": 72 * HOUR}},
        now=REVIEW_DAY,
    )
    assert review.sign_offs.count() == 1

    review = propose_p2_resolve(review, requester_lead)

    assert review.status == ReviewStatus.IN_PROGRESS
    assert not review.sign_offs.exists()
    # Lena must sign what is now proposed: Rob's signature alone does not complete it.
    assert sign(review, requester_lead).status == ReviewStatus.AWAITING_SIGN_OFF


def test_changing_the_decisions_clears_the_sign_offs(started_review, provider_lead):
    review = sign(started_review, provider_lead)
    review = services.review_update(
        review=review, actor=provider_lead, decisions="Keep all targets.", now=REVIEW_DAY
    )
    assert review.status == ReviewStatus.IN_PROGRESS
    assert not review.sign_offs.exists()


# --- signing off -------------------------------------------------------------------------------


def test_a_scheduled_review_cannot_be_signed(review, provider_lead):
    with pytest.raises(Conflict, match="Start the review before signing"):
        sign(review, provider_lead)
    assert not ReviewSignOff.objects.exists()


def test_only_leads_sign(started_review, provider_member, requester, outsider, staff):
    for user in (provider_member, requester, outsider, staff):
        with pytest.raises(PermissionDenied):
            sign(started_review, user)
    assert not ReviewSignOff.objects.exists()


def test_a_lead_signs_their_side_once(started_review, provider_lead, provider_team):
    review = sign(started_review, provider_lead, comment="Fair quarter.")

    assert review.status == ReviewStatus.AWAITING_SIGN_OFF
    [signed] = review.sign_offs.all()
    assert (signed.team, signed.user, signed.signed_at, signed.comment) == (
        provider_team,
        provider_lead,
        REVIEW_DAY,
        "Fair quarter.",
    )
    assert services.sides_to_sign(provider_lead, review) == []
    with pytest.raises(Conflict, match="already signed"):
        sign(review, provider_lead)


def test_two_sign_offs_without_changes_complete_the_review_and_keep_the_version(
    started_review, provider_lead, requester_lead, agreement
):
    sign(started_review, provider_lead)
    review = sign(started_review, requester_lead, at=REVIEW_DAY + timedelta(hours=2))

    assert review.status == ReviewStatus.COMPLETED
    assert review.completed_at == REVIEW_DAY + timedelta(hours=2)
    assert review.resulting_agreement is None
    assert list(Agreement.objects.filter(series=agreement.series)) == [agreement]
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ACTIVE


def test_changed_targets_become_the_next_active_version_approved_by_the_signers(
    started_review, provider_lead, requester_lead, agreement, provider_team, requesting_team
):
    propose_p2_resolve(started_review, provider_lead)
    sign(started_review, provider_lead)
    review = sign(started_review, requester_lead)

    assert review.status == ReviewStatus.COMPLETED
    new = review.resulting_agreement
    assert (new.series, new.version, new.status) == (agreement.series, 2, AgreementStatus.ACTIVE)
    assert new.target_for("P2").resolve_seconds == NEW_P2_RESOLVE
    # Everything else is carried over from the version reviewed.
    assert new.target_for("P2").acknowledge_seconds == 2 * HOUR
    assert new.target_for("P2").around_the_clock is True
    assert new.target_for("P1").resolve_seconds == 8 * HOUR
    assert new.triage_fields.count() == agreement.triage_fields.count()
    assert new.title == agreement.title
    # The sign-offs are its approvals, each side by the lead who signed it.
    assert {(a.team, a.user) for a in new.approvals.all()} == {
        (provider_team, provider_lead),
        (requesting_team, requester_lead),
    }
    assert f"review #{review.pk}" in new.change_summary
    assert "P2 resolve 72 h → 60 h" in new.change_summary
    # The next review is due a cadence after this one.
    assert new.next_review_date == date(2026, 7, 1)
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.SUPERSEDED


def test_a_handoff_filed_afterwards_carries_the_new_target(
    started_review, provider_lead, requester_lead, file_handoff
):
    before = file_handoff("P2", at=REVIEW_DAY - timedelta(hours=1))
    propose_p2_resolve(started_review, provider_lead)
    sign(started_review, provider_lead)
    review = sign(started_review, requester_lead)

    after = file_handoff("P2", at=REVIEW_DAY + timedelta(hours=1))

    assert after.agreement == review.resulting_agreement
    assert after.clock("resolve").target_seconds == NEW_P2_RESOLVE
    # Work already filed keeps the terms it was filed under.
    assert before.clock("resolve").target_seconds == 72 * HOUR


def test_a_lead_of_both_teams_signs_both_sides_at_once(started_review, dual_lead):
    propose_p2_resolve(started_review, dual_lead)

    review = sign(started_review, dual_lead)

    assert review.status == ReviewStatus.COMPLETED
    assert {s.user for s in review.sign_offs.all()} == {dual_lead}
    assert review.sign_offs.count() == 2
    new = review.resulting_agreement
    assert new.status == AgreementStatus.ACTIVE
    assert {a.user for a in new.approvals.all()} == {dual_lead}
    assert new.approvals.count() == 2


def test_each_side_is_approved_by_its_own_signer_when_one_leads_both(
    started_review, provider_lead, dual_lead, provider_team, requesting_team
):
    propose_p2_resolve(started_review, provider_lead)
    sign(started_review, provider_lead)
    # Dana leads both, but only the requesting side is left for her to sign.
    assert services.sides_to_sign(dual_lead, started_review) == [requesting_team]
    review = sign(started_review, dual_lead)

    approvals = {a.team: a.user for a in review.resulting_agreement.approvals.all()}
    assert approvals == {provider_team: provider_lead, requesting_team: dual_lead}


def test_an_open_draft_blocks_the_completing_sign_off_and_nothing_is_written(
    started_review, provider_lead, requester_lead, agreement
):
    draft = agreement_services.agreement_amend(agreement=agreement, actor=requester_lead)
    propose_p2_resolve(started_review, provider_lead)
    sign(started_review, provider_lead)

    with pytest.raises(Conflict, match="Version 2 of this agreement is already being prepared"):
        sign(started_review, requester_lead)

    review = QuarterlyReview.objects.get(pk=started_review.pk)
    assert review.status == ReviewStatus.AWAITING_SIGN_OFF
    assert review.sign_offs.count() == 1
    assert list(Agreement.objects.filter(series=agreement.series).order_by("version")) == [
        agreement,
        draft,
    ]
    # Once the draft is withdrawn, the same sign-off goes through.
    agreement_services.agreement_retire(agreement=draft, actor=requester_lead)
    assert sign(started_review, requester_lead).resulting_agreement.version == 3


def test_an_open_draft_does_not_block_a_review_that_changes_nothing(
    started_review, provider_lead, requester_lead, agreement
):
    agreement_services.agreement_amend(agreement=agreement, actor=requester_lead)
    sign(started_review, provider_lead)
    assert sign(started_review, requester_lead).status == ReviewStatus.COMPLETED


def test_a_signer_who_no_longer_leads_must_be_replaced(
    started_review, provider_lead, requester_lead, provider_team
):
    propose_p2_resolve(started_review, provider_lead)
    sign(started_review, provider_lead)
    Membership.objects.filter(user=provider_lead, team=provider_team).update(role=Role.MEMBER)

    with pytest.raises(Conflict, match="no longer leads"):
        sign(started_review, requester_lead)
    assert started_review.sign_offs.count() == 1


def test_a_completed_review_is_closed_to_changes(started_review, provider_lead, requester_lead):
    sign(started_review, provider_lead)
    sign(started_review, requester_lead)
    with pytest.raises(Conflict, match="completed"):
        services.review_update(
            review=started_review, actor=provider_lead, findings="late note", now=REVIEW_DAY
        )
    with pytest.raises(Conflict, match="already completed"):
        sign(started_review, provider_lead)


def test_the_next_review_is_scheduled_after_completion_on_the_new_version(
    started_review, provider_lead, requester_lead
):
    propose_p2_resolve(started_review, provider_lead)
    sign(started_review, provider_lead)
    new = sign(started_review, requester_lead).resulting_agreement

    [following] = services.reviews_schedule(now=berlin(2026, 6, 17, 7, 0))

    assert following.agreement == new
    assert (following.period_start, following.due_date) == (date(2026, 4, 1), date(2026, 7, 1))
    assert following.status == ReviewStatus.SCHEDULED


def test_the_other_side_hears_it_is_their_turn_and_both_hear_of_completion(
    started_review, provider_lead, requester_lead
):
    def inbox(user, **filters):
        return list(
            Notification.objects.filter(
                recipient=user, channel="in_app", subject_id=started_review.pk, **filters
            ).values_list("title", flat=True)
        )

    sign(started_review, provider_lead)
    assert inbox(requester_lead, kind="review_due") == [
        f"{provider_lead} signed the review of {started_review.agreement.title}: "
        "your sign-off is next"
    ]
    assert inbox(provider_lead) == []

    sign(started_review, requester_lead)
    completed = f"The review of {started_review.agreement.title} is signed off"
    assert inbox(provider_lead, kind="other") == [completed]
    assert inbox(requester_lead, kind="other") == [completed]
