"""Every breached clock needs a breach review: the provider team writes it (root cause,
what happened, what would have prevented it), the requesting team reads it, and the
provider team's "breaches to review" list shows what is still missing."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.core.exceptions import Conflict
from apps.handoffs import services as handoff_services
from apps.handoffs.clockwork.sweep import sweep_due_clocks
from apps.handoffs.models import Clock
from apps.reviews import selectors, services
from apps.reviews.models import BreachReview, RootCause
from apps.teams.models import Membership
from tests.factories import AgreementFactory
from tests.helpers import MONDAY_10

pytestmark = pytest.mark.django_db

LATER = MONDAY_10 + timedelta(days=1)


def save(clock, user, **overrides):
    values = {
        "root_cause": RootCause.CAPACITY,
        "what_happened": "Two engineers off sick; the P1 sat in the queue for an hour.",
        "prevention": "An on-call rota that covers sick leave.",
        "now": LATER,
    }
    return services.breach_review_save(clock=clock, actor=user, **{**values, **overrides})


def test_a_provider_member_reviews_a_breach(breached_clock, provider_member):
    clock = breached_clock()

    review = save(clock, provider_member)

    assert review.clock == clock
    assert review.root_cause == RootCause.CAPACITY
    assert review.what_happened.startswith("Two engineers")
    assert review.prevention == "An on-call rota that covers sick leave."
    assert review.reviewed_by == provider_member


def test_saving_again_updates_the_one_review(breached_clock, provider_member, provider_lead):
    clock = breached_clock()
    first = save(clock, provider_member)

    second = save(clock, provider_lead, root_cause=RootCause.PROCESS, prevention="")

    assert second.pk == first.pk
    assert BreachReview.objects.count() == 1
    second.refresh_from_db()
    assert (second.root_cause, second.prevention, second.reviewed_by) == (
        RootCause.PROCESS,
        "",
        provider_lead,
    )


def test_the_requesting_team_and_outsiders_cannot_write_it(
    breached_clock, requester, requester_lead, outsider, staff
):
    clock = breached_clock()
    for user in (requester, requester_lead, outsider, staff):
        with pytest.raises(PermissionDenied):
            save(clock, user)
    assert not BreachReview.objects.exists()


def test_the_requesting_team_sees_it_and_outsiders_do_not(
    breached_clock, provider_member, requester, outsider
):
    review = save(breached_clock(), provider_member)
    assert list(BreachReview.objects.visible_to(requester)) == [review]
    assert list(BreachReview.objects.visible_to(outsider)) == []
    assert services.can_review_breach(provider_member, review.clock)
    assert not services.can_review_breach(requester, review.clock)


def test_a_clock_that_did_not_breach_has_nothing_to_review(file_handoff, provider_member):
    handoff = file_handoff("P1")
    clock = handoff.clock("acknowledge")
    with pytest.raises(Conflict, match="not breached"):
        save(clock, provider_member)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"root_cause": ""}, "root_cause"),
        ({"root_cause": "bad luck"}, "root_cause"),
        ({"what_happened": "   "}, "what_happened"),
    ],
)
def test_root_cause_and_what_happened_are_required(
    breached_clock, provider_member, overrides, field
):
    clock = breached_clock()
    with pytest.raises(ValidationError) as excinfo:
        save(clock, provider_member, **overrides)
    assert field in excinfo.value.message_dict
    assert not BreachReview.objects.exists()


# --- the list of breaches to review ----------------------------------------------------------


def test_breaches_to_review_lists_the_teams_unreviewed_breaches_newest_first(
    breached_clock, provider_member, requester, outsider, file_handoff
):
    oldest = breached_clock(at=MONDAY_10)
    reviewed = breached_clock(at=MONDAY_10 + timedelta(hours=2))
    newest = breached_clock(at=MONDAY_10 + timedelta(hours=4))
    file_handoff("P1", at=MONDAY_10)  # running, in time: nothing to review
    save(reviewed, provider_member)

    assert list(selectors.breaches_to_review(user=provider_member)) == [newest, oldest]
    # The requesting team reads breach reviews but does not owe them.
    assert list(selectors.breaches_to_review(user=requester)) == []
    assert list(selectors.breaches_to_review(user=outsider)) == []


def test_breaches_to_review_narrows_to_one_team(
    breached_clock, provider_member, provider_team, other_team, requesting_team, requester
):
    mine = breached_clock()
    # Max also works in Finance's queue, which breached too.
    Membership.objects.create(team=other_team, user=provider_member)
    finance = AgreementFactory(
        series__provider_team=other_team, series__requesting_team=requesting_team
    )
    handoff = handoff_services.handoff_create(
        actor=requester,
        agreement=finance,
        title="Invoice wrong",
        priority="P1",
        triage={"steps": "open invoice", "environment": "production"},
        now=MONDAY_10,
    )
    handoff_services.handoff_acknowledge(
        handoff=handoff, actor=provider_member, now=MONDAY_10 + timedelta(hours=2)
    )
    theirs = Clock.objects.get(handoff=handoff, metric="acknowledge")

    assert set(selectors.breaches_to_review(user=provider_member)) == {mine, theirs}
    assert list(selectors.breaches_to_review(user=provider_member, team=provider_team)) == [mine]


def test_a_breach_noticed_by_the_sweep_is_to_review_while_the_clock_still_runs(
    file_handoff, provider_member
):
    handoff = file_handoff("P1")
    sweep_due_clocks(now=MONDAY_10 + timedelta(hours=1))
    [clock] = selectors.breaches_to_review(user=provider_member)
    assert (clock.handoff, clock.metric) == (handoff, "acknowledge")
    assert save(clock, provider_member).clock == clock


@pytest.mark.parametrize("n", [1, 6])
def test_breaches_to_review_costs_the_same_whatever_its_length(
    n, breached_clock, provider_member, django_assert_num_queries
):
    for i in range(n):
        breached_clock(at=MONDAY_10 + timedelta(hours=i))
    with django_assert_num_queries(1):
        rows = [
            (
                c.handoff.title,
                c.handoff.priority,
                c.handoff.provider_team.name,
                c.handoff.requesting_team.name,
                c.handoff.assignee.username if c.handoff.assignee else "",
                c.handoff.agreement.title,
                c.metric,
                c.breached_at,
            )
            for c in selectors.breaches_to_review(user=provider_member)
        ]
    assert len(rows) == n
