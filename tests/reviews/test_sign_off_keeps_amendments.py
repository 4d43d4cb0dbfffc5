"""Nothing silently undone: a review's sign-off applies only the changes the review made
(its proposal against the version it started from) on top of the version in force at
sign-off. The story of issue 11: the review started under one version (P3 resolve 80 h
here), both leads approved an amendment to 60 h while it was open, the review changed only
P1 acknowledge — signing keeps 60 h. Where the review changed the same target as the
amendment, signing is refused (409) naming the newer version and both values. And a
review opens for sign-off only once its period is over."""

from datetime import timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from apps.agreements import services as agreement_services
from apps.agreements.models import Agreement
from apps.core.exceptions import Conflict
from apps.reviews import services
from apps.reviews.models import QuarterlyReview, ReviewStatus
from apps.reviews.presenters import duration
from apps.reviews.services import rebase_targets
from tests.helpers import berlin

from .conftest import REVIEW_DAY, active_version

pytestmark = pytest.mark.django_db

HOUR = 3600
MEANWHILE = REVIEW_DAY + timedelta(hours=1)
SIGNING = REVIEW_DAY + timedelta(hours=3)


@pytest.fixture(autouse=True)
def _review_day():
    with time_machine.travel(SIGNING, tick=False):
        yield


def amend(agreement, leads, *, at=MEANWHILE, **targets_by_priority) -> Agreement:
    """Both leads approve a new version with some targets changed (the agreements' own
    lifecycle, as the agreement pages do)."""
    first, second = leads
    draft = agreement_services.agreement_amend(agreement=agreement, actor=first, now=at)
    rows = []
    for target in draft.targets.all():
        data = {f: getattr(target, f) for f in agreement_services.TARGET_FIELDS}
        for metric, seconds in targets_by_priority.get(target.priority, {}).items():
            data[f"{metric}_seconds"] = seconds
        rows.append(data)
    draft = agreement_services.agreement_update_draft(
        agreement=draft, actor=first, targets=rows, change_summary="Amended.", now=at
    )
    agreement_services.agreement_submit(agreement=draft, actor=first, now=at)
    agreement_services.agreement_approve(agreement=draft, actor=first, now=at)
    agreement_services.agreement_approve(agreement=draft, actor=second, now=at)
    draft.refresh_from_db()
    assert draft.status == "active"
    return draft


def propose(review, user, targets):
    return services.review_update(
        review=review, actor=user, proposed_targets=targets, now=REVIEW_DAY
    )


def sign_both(review, first, second):
    services.review_sign_off(review=review, actor=first, now=SIGNING)
    return services.review_sign_off(review=review, actor=second, now=SIGNING + timedelta(minutes=5))


def test_an_amendment_approved_during_the_review_is_kept_at_sign_off(
    started_review, agreement, provider_lead, requester_lead
):
    assert agreement.target_for("P3").resolve_seconds == 80 * HOUR
    # Both leads approve version 2 (P3 resolve 60 h) while the review is open.
    v2 = amend(agreement, (provider_lead, requester_lead), P3={"resolve": 60 * HOUR})
    # The review changes only P1 acknowledge (30 min → 20 min).
    propose(started_review, provider_lead, {"P1": {"acknowledge": 20 * 60}})

    review = sign_both(started_review, provider_lead, requester_lead)

    v3 = review.resulting_agreement
    assert (v3.version, v3.status) == (3, "active")
    assert v3.target_for("P3").resolve_seconds == 60 * HOUR  # not put back to 80 h
    assert v3.target_for("P1").acknowledge_seconds == 20 * 60
    for priority in ("P2", "P4"):
        assert [v3.target_for(priority).seconds_for(m) for m in services.METRICS] == [
            v2.target_for(priority).seconds_for(m) for m in services.METRICS
        ]
    # The change summary names only what the review changed.
    assert "P1 acknowledge" in v3.change_summary
    assert "P3" not in v3.change_summary.split("\n\n")[0]


def test_the_same_target_changed_by_both_is_refused_naming_the_newer_version(
    started_review, agreement, provider_lead, requester_lead
):
    amend(agreement, (provider_lead, requester_lead), P3={"resolve": 60 * HOUR})
    propose(started_review, provider_lead, {"P3": {"resolve": 48 * HOUR}})

    with pytest.raises(Conflict) as excinfo:
        services.review_sign_off(review=started_review, actor=provider_lead, now=SIGNING)

    message = excinfo.value.message
    assert "Version 2" in message and "P3 resolve" in message
    assert "80 h" in message or "10 days" in message or "80" in message
    assert "60" in message and "48" in message
    review = QuarterlyReview.objects.get(pk=started_review.pk)
    assert review.status == ReviewStatus.IN_PROGRESS and not review.sign_offs.exists()
    assert active_version(agreement.series_id).version == 2

    # Keeping version 2's value resolves it: nothing left to change, the version stays.
    propose(review, provider_lead, {"P3": {"resolve": 60 * HOUR}})
    review = sign_both(review, provider_lead, requester_lead)
    assert review.status == ReviewStatus.COMPLETED and review.resulting_agreement is None
    assert active_version(agreement.series_id).version == 2


def test_both_changing_a_target_to_the_same_value_is_no_conflict(
    started_review, agreement, provider_lead, requester_lead
):
    amend(agreement, (provider_lead, requester_lead), P3={"resolve": 60 * HOUR})
    propose(
        started_review, provider_lead, {"P3": {"resolve": 60 * HOUR}, "P2": {"resolve": 60 * HOUR}}
    )
    review = sign_both(started_review, provider_lead, requester_lead)
    v3 = review.resulting_agreement
    assert v3.target_for("P3").resolve_seconds == 60 * HOUR
    assert v3.target_for("P2").resolve_seconds == 60 * HOUR


def test_the_api_answers_409_with_both_values(
    started_review, agreement, provider_lead, requester_lead
):
    amend(agreement, (provider_lead, requester_lead), P3={"resolve": 60 * HOUR})
    propose(started_review, provider_lead, {"P3": {"resolve": 48 * HOUR}})
    client = APIClient()
    client.force_authenticate(provider_lead)
    response = client.post(f"/api/reviews/{started_review.pk}/sign-off/", {}, format="json")
    assert response.status_code == 409
    text = str(response.json())
    assert "Version 2" in text and "P3 resolve" in text and "48" in text and "60" in text


def test_the_page_shows_the_newer_version_its_targets_and_the_conflict(
    client, started_review, agreement, provider_lead, requester_lead
):
    amend(agreement, (provider_lead, requester_lead), P3={"resolve": 60 * HOUR})
    client.force_login(provider_lead)
    html = client.get(started_review.get_absolute_url()).content.decode()
    assert 'data-testid="newer-version"' in html and "Version 2" in html
    # The grid starts from what signing would make active: version 2's 60 h.
    response = client.get(started_review.get_absolute_url())
    assert response.context["targets_form"].initial["P3_resolve"] == 60 * HOUR
    # "Current target" is the version in force now (80 h was frozen when it started).
    rows = {(r["priority"], r["metric"]): r for r in response.context["recommendations"]}
    assert rows[("P3", "resolve")]["current"] == duration(60 * HOUR, business=True)

    propose(started_review, provider_lead, {"P3": {"resolve": 48 * HOUR}})
    response = client.post(f"/reviews/{started_review.pk}/sign-off/", {"comment": ""})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="target-conflicts"' in page
    assert "Version 2" in page and "P3 resolve" in page
    assert not QuarterlyReview.objects.get(pk=started_review.pk).sign_offs.exists()


def test_sign_off_opens_only_once_the_period_is_over(
    review, agreement, provider_lead, requester_lead, client
):
    # A review started early (before this rule) cannot be signed before the period ends.
    review.status = ReviewStatus.IN_PROGRESS
    review.proposed_targets = services._targets_of(agreement)
    review.save()
    with pytest.raises(Conflict, match=r"runs until 31 Mar 2026.*signed off from 1 Apr 2026"):
        services.review_sign_off(review=review, actor=provider_lead, now=berlin(2026, 3, 31, 23, 0))
    client.force_login(provider_lead)
    with time_machine.travel(berlin(2026, 3, 20, 10, 0), tick=False):
        html = client.get(review.get_absolute_url()).content.decode()
        assert 'data-testid="sign-off-after-period"' in html
        assert 'data-testid="sign-off-form"' not in html
        response = client.post(f"/reviews/{review.pk}/sign-off/", {"comment": ""})
        assert response.status_code == 302
        assert "1 Apr 2026" in client.get(response["Location"]).content.decode()
        api = APIClient()
        api.force_authenticate(provider_lead)
        answer = api.post(f"/api/reviews/{review.pk}/sign-off/", {}, format="json")
        assert answer.status_code == 409 and "1 Apr 2026" in str(answer.json())
    assert not review.sign_offs.exists()
    assert (
        services.review_sign_off(
            review=review, actor=provider_lead, now=berlin(2026, 4, 1, 0, 5)
        ).status
        == ReviewStatus.AWAITING_SIGN_OFF
    )


def test_the_start_button_waits_for_the_period_end(client, review, provider_lead):
    client.force_login(provider_lead)
    with time_machine.travel(berlin(2026, 3, 20, 10, 0), tick=False):
        html = client.get(review.get_absolute_url()).content.decode()
        assert 'data-testid="starts-after-period"' in html
        assert 'data-testid="start-review"' not in html
        api = APIClient()
        api.force_authenticate(provider_lead)
        answer = api.post(f"/api/reviews/{review.pk}/start/", {}, format="json")
        assert answer.status_code == 409 and "1 Apr 2026" in str(answer.json())
    html = client.get(review.get_absolute_url()).content.decode()
    assert 'data-testid="start-review"' in html


@pytest.mark.parametrize(
    "base,proposed,active,expected,conflicts",
    [
        # The review left the cell alone: the active value stays.
        ({"P3": {"resolve": 72}}, {"P3": {"resolve": 72}}, {"P3": {"resolve": 60}}, 60, 0),
        # Only the review changed it.
        ({"P3": {"resolve": 72}}, {"P3": {"resolve": 48}}, {"P3": {"resolve": 72}}, 48, 0),
        # Both, to the same value.
        ({"P3": {"resolve": 72}}, {"P3": {"resolve": 60}}, {"P3": {"resolve": 60}}, 60, 0),
        # Both, differently: a conflict, the active value untouched.
        ({"P3": {"resolve": 72}}, {"P3": {"resolve": 48}}, {"P3": {"resolve": 60}}, 60, 1),
        # Best effort is a value like any other.
        ({"P3": {"resolve": 72}}, {"P3": {"resolve": None}}, {"P3": {"resolve": 72}}, None, 0),
    ],
)
def test_rebase_targets(base, proposed, active, expected, conflicts):
    result, found = rebase_targets(base=base, proposed=proposed, active=active)
    assert result["P3"]["resolve"] == expected
    assert len(found) == conflicts
