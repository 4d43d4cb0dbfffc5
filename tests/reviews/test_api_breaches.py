"""Breach reviews and action items through the REST API: the provider team writes breach
reviews (the requesting team reads them, anyone else gets 404), the "to review" list,
action items added by those who may and ticked off by their owner, constant query
budgets, and no deletes."""

from datetime import timedelta

import pytest
import time_machine

from apps.handoffs import services as handoff_services
from apps.handoffs.models import Clock
from apps.reviews import services
from apps.reviews.models import ActionItem, BreachReview, RootCause
from tests.helpers import MONDAY_10, client_for

from .conftest import REVIEW_DAY

pytestmark = pytest.mark.django_db

BREACHES = "/api/breach-reviews/"
TO_REVIEW = "/api/breach-reviews/to-review/"
ITEMS = "/api/action-items/"
DUE_ON = "2026-04-15"
# count, page (clock, handoff, teams, reviewer joined), action items (owner joined)
BREACH_LIST_QUERIES = 3
# count, page (handoff and teams joined)
TO_REVIEW_QUERIES = 2
# count, page (owner joined)
ITEM_LIST_QUERIES = 2


@pytest.fixture(autouse=True)
def _review_day():
    with time_machine.travel(REVIEW_DAY, tick=False):
        yield


def body_for(breached, **overrides):
    return {
        "clock": breached.pk,
        "root_cause": "capacity",
        "what_happened": "The P1 sat in the queue for an hour: two engineers off sick.",
        "prevention": "An on-call rota that covers sick leave.",
        **overrides,
    }


@pytest.fixture
def breach_review(breached_clock, provider_member):
    return services.breach_review_save(
        clock=breached_clock(),
        actor=provider_member,
        root_cause=RootCause.SKILLS,
        what_happened="Nobody on shift knew the billing service.",
        now=MONDAY_10 + timedelta(days=1),
    )


# --- breach reviews --------------------------------------------------------------------------


def test_a_provider_member_reviews_a_breach_and_both_teams_read_it(
    breached_clock, provider_member, requester, outsider
):
    clock = breached_clock()

    response = client_for(provider_member).post(BREACHES, body_for(clock), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["root_cause"], body["reviewed_by"]) == ("capacity", provider_member.pk)
    assert body["clock"]["id"] == clock.pk
    assert body["clock"]["metric"] == "acknowledge"
    assert body["clock"]["handoff"]["priority"] == "P1"
    review = BreachReview.objects.get(clock=clock)
    assert review.prevention == "An on-call rota that covers sick leave."

    read = client_for(requester).get(f"{BREACHES}{review.pk}/")
    assert read.status_code == 200 and read.json()["id"] == review.pk
    assert client_for(outsider).get(f"{BREACHES}{review.pk}/").status_code == 404
    assert client_for(outsider).get(BREACHES).json()["count"] == 0


def test_posting_again_for_the_same_clock_rewrites_its_one_review(
    breached_clock, provider_member, provider_lead
):
    clock = breached_clock()
    client_for(provider_member).post(BREACHES, body_for(clock), format="json")

    response = client_for(provider_lead).post(
        BREACHES, body_for(clock, root_cause="process"), format="json"
    )

    assert response.status_code == 200
    assert BreachReview.objects.get().root_cause == "process"


def test_the_requesting_team_may_not_write_a_breach_review(
    breached_clock, requester, requester_lead
):
    clock = breached_clock()
    for user in (requester, requester_lead):
        response = client_for(user).post(BREACHES, body_for(clock), format="json")
        assert response.status_code == 403, response.json()
    assert not BreachReview.objects.exists()


def test_a_clock_you_may_not_see_is_not_found(breached_clock, outsider, provider_member):
    clock = breached_clock()
    assert client_for(outsider).post(BREACHES, body_for(clock), format="json").status_code == 404
    missing = body_for(clock, clock=clock.pk + 1000)
    assert client_for(provider_member).post(BREACHES, missing, format="json").status_code == 404
    assert not BreachReview.objects.exists()


def test_a_clock_that_did_not_breach_is_400_on_clock(file_handoff, provider_member):
    handoff = file_handoff("P3")
    clock = Clock.objects.get(handoff=handoff, metric="resolve")

    response = client_for(provider_member).post(BREACHES, body_for(clock), format="json")

    assert response.status_code == 400
    assert "clock" in response.json()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"root_cause": "bad luck"}, "root_cause"),
        ({"root_cause": None}, "root_cause"),
        ({"what_happened": "   "}, "what_happened"),
        ({"what_happened": None}, "what_happened"),
        ({"clock": "abc"}, "clock"),
        ({"clock": 2**40}, "clock"),
    ],
)
def test_bad_breach_reviews_are_400_under_the_field(
    breached_clock, provider_member, overrides, field
):
    clock = breached_clock()
    response = client_for(provider_member).post(
        BREACHES, body_for(clock, **overrides), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not BreachReview.objects.exists()


def test_patch_changes_only_what_is_sent(breach_review, provider_lead, requester):
    url = f"{BREACHES}{breach_review.pk}/"
    response = client_for(provider_lead).patch(url, {"root_cause": "systems"}, format="json")

    assert response.status_code == 200, response.json()
    breach_review.refresh_from_db()
    assert breach_review.root_cause == "systems"
    assert breach_review.what_happened == "Nobody on shift knew the billing service."
    assert breach_review.reviewed_by == provider_lead

    forbidden = client_for(requester).patch(url, {"root_cause": "other"}, format="json")
    assert forbidden.status_code == 403
    bad = client_for(provider_lead).patch(url, {"what_happened": ""}, format="json")
    assert bad.status_code == 400 and "what_happened" in bad.json()


@pytest.mark.parametrize("persona", ["requester", "staff"])
def test_who_reads_but_may_not_write_is_refused_before_the_body_is_read(
    breach_review, persona, request
):
    # The requesting team and staff read a breach review; a malformed change from them is
    # a 403 (asked first, as on the page), never a 400 about its fields.
    client = client_for(request.getfixturevalue(persona))
    url = f"{BREACHES}{breach_review.pk}/"
    assert client.get(url).status_code == 200
    response = client.patch(url, {"root_cause": "weather", "what_happened": []}, format="json")
    assert response.status_code == 403, response.content[:300]
    breach_review.refresh_from_db()
    assert breach_review.root_cause == RootCause.SKILLS


def test_no_breach_review_is_deleted_or_replaced(breach_review, provider_lead):
    url = f"{BREACHES}{breach_review.pk}/"
    assert client_for(provider_lead).delete(url).status_code == 405
    assert client_for(provider_lead).put(url, {}, format="json").status_code == 405
    assert BreachReview.objects.filter(pk=breach_review.pk).exists()


def test_breaches_to_review_lists_the_provider_teams_unreviewed_breaches(
    breached_clock, provider_member, requester
):
    first, second = breached_clock(), breached_clock(at=MONDAY_10 + timedelta(hours=3))
    client = client_for(provider_member)

    body = client.get(TO_REVIEW).json()
    assert {c["id"] for c in body["results"]} == {first.pk, second.pk}
    assert body["results"][0]["handoff"]["provider_team_slug"] == "engineering"

    client.post(BREACHES, body_for(first), format="json")
    assert [c["id"] for c in client.get(TO_REVIEW).json()["results"]] == [second.pk]
    assert client.get(TO_REVIEW, {"team": "engineering"}).json()["count"] == 1
    assert client.get(TO_REVIEW, {"team": "support"}).json()["count"] == 0
    assert client.get(TO_REVIEW, {"team": "no-such-team"}).json()["count"] == 0
    # The requesting team reads breach reviews but has none of its own to write.
    assert client_for(requester).get(TO_REVIEW).json()["count"] == 0


@pytest.mark.parametrize("n", [2, 12])
def test_breach_lists_use_a_constant_number_of_queries(
    n, breached_clock, provider_member, django_assert_max_num_queries
):
    for i in range(n):
        clock = breached_clock(at=MONDAY_10 + timedelta(hours=i))
        if i % 2:
            review = services.breach_review_save(
                clock=clock,
                actor=provider_member,
                root_cause="process",
                what_happened="Waited for the release.",
                now=REVIEW_DAY,
            )
            services.action_item_create(
                actor=provider_member,
                title="Hotfix lane",
                owner=provider_member,
                due_date=REVIEW_DAY.date() + timedelta(days=7),
                breach_review=review,
                now=REVIEW_DAY,
            )
    client = client_for(provider_member)
    with django_assert_max_num_queries(BREACH_LIST_QUERIES):
        reviews = client.get(BREACHES).json()
    assert reviews["count"] == n // 2
    assert all(len(r["action_items"]) == 1 for r in reviews["results"])
    with django_assert_max_num_queries(TO_REVIEW_QUERIES):
        to_review = client.get(TO_REVIEW).json()
    assert to_review["count"] == n - n // 2


# --- action items ----------------------------------------------------------------------------


def item_body(**overrides):
    return {"title": "Write the billing runbook", "due_date": DUE_ON, **overrides}


def test_a_lead_adds_an_action_item_to_a_review(review, provider_lead, provider_member):
    response = client_for(provider_lead).post(
        ITEMS, item_body(review=review.pk, owner=provider_member.pk), format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["review"], body["owner"], body["done"], body["due_date"]) == (
        review.pk,
        provider_member.pk,
        False,
        DUE_ON,
    )
    item = ActionItem.objects.get()
    assert (item.created_by, item.review) == (provider_lead, review)
    detail = client_for(provider_lead).get(f"/api/reviews/{review.pk}/").json()
    assert [i["id"] for i in detail["action_items"]] == [item.pk]


def test_a_provider_member_adds_one_to_a_breach_review(breach_review, provider_member, requester):
    response = client_for(provider_member).post(
        ITEMS, item_body(breach_review=breach_review.pk, owner=requester.pk), format="json"
    )
    assert response.status_code == 201, response.json()
    assert ActionItem.objects.get().breach_review == breach_review


def test_who_may_not_add_action_items(review, breach_review, provider_member, requester, outsider):
    # Members who do not lead do not add items to a quarterly review ...
    response = client_for(provider_member).post(
        ITEMS, item_body(review=review.pk, owner=provider_member.pk), format="json"
    )
    assert response.status_code == 403
    # ... the requesting team does not add them to a breach review ...
    response = client_for(requester).post(
        ITEMS, item_body(breach_review=breach_review.pk, owner=requester.pk), format="json"
    )
    assert response.status_code == 403
    # ... and a review you may not see is no review at all.
    response = client_for(outsider).post(
        ITEMS, item_body(review=review.pk, owner=outsider.pk), format="json"
    )
    assert response.status_code == 400 and "review" in response.json()
    assert not ActionItem.objects.exists()


@pytest.mark.parametrize(
    "make_body, field",
    [
        (lambda r, b, u, o: item_body(owner=u.pk), "review"),
        (lambda r, b, u, o: item_body(review=r.pk, breach_review=b.pk, owner=u.pk), "review"),
        (lambda r, b, u, o: item_body(review=r.pk, owner=o.pk), "owner"),
        (lambda r, b, u, o: item_body(review=r.pk, owner=10**6), "owner"),
        (lambda r, b, u, o: item_body(review=r.pk, owner=u.pk, title=""), "title"),
        (lambda r, b, u, o: item_body(review=r.pk, owner=u.pk, due_date="2026-03-01"), "due_date"),
        (lambda r, b, u, o: item_body(review=r.pk, owner=u.pk, due_date="soon"), "due_date"),
    ],
)
def test_bad_action_items_are_400_under_the_field(
    review, breach_review, provider_lead, outsider, make_body, field
):
    body = make_body(review, breach_review, provider_lead, outsider)
    response = client_for(provider_lead).post(ITEMS, body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not ActionItem.objects.exists()


@pytest.fixture
def item(review, provider_lead, provider_member):
    return services.action_item_create(
        actor=provider_lead,
        title="Write the billing runbook",
        owner=provider_member,
        due_date=REVIEW_DAY.date() + timedelta(days=21),
        review=review,
        now=REVIEW_DAY,
    )


def test_the_owner_ticks_an_item_off_and_opens_it_again(item, provider_member):
    client = client_for(provider_member)
    done = client.post(f"{ITEMS}{item.pk}/done/", {"done": True}, format="json")
    assert done.status_code == 200, done.json()
    assert done.json()["done"] is True
    item.refresh_from_db()
    assert item.done_at == REVIEW_DAY

    again = client.post(f"{ITEMS}{item.pk}/done/", {"done": False}, format="json")
    assert again.json()["done"] is False
    item.refresh_from_db()
    assert item.done_at is None


@pytest.mark.parametrize("persona", ["requester", "staff"])
def test_who_may_not_tick_an_item_is_refused_before_the_body_is_read(item, persona, request):
    client = client_for(request.getfixturevalue(persona))
    for body in ({}, {"done": "perhaps"}):
        response = client.post(f"{ITEMS}{item.pk}/done/", body, format="json")
        assert response.status_code == 403, response.content[:300]
    item.refresh_from_db()
    assert item.done_at is None


def test_only_the_owner_or_a_lead_ticks_an_item(item, requester, outsider, requester_lead):
    assert (
        client_for(requester)
        .post(f"{ITEMS}{item.pk}/done/", {"done": True}, format="json")
        .status_code
        == 403
    )
    assert (
        client_for(outsider)
        .post(f"{ITEMS}{item.pk}/done/", {"done": True}, format="json")
        .status_code
        == 404
    )
    item.refresh_from_db()
    assert item.done_at is None
    # A lead of the review (either team) may.
    assert (
        client_for(requester_lead)
        .post(f"{ITEMS}{item.pk}/done/", {"done": True}, format="json")
        .status_code
        == 200
    )
    # "done" is required and a boolean.
    bad = client_for(requester_lead).post(f"{ITEMS}{item.pk}/done/", {}, format="json")
    assert bad.status_code == 400 and "done" in bad.json()


def test_action_items_are_seen_by_both_teams_and_filtered(
    item, requester, outsider, provider_member
):
    assert client_for(requester).get(f"{ITEMS}{item.pk}/").status_code == 200
    assert client_for(outsider).get(f"{ITEMS}{item.pk}/").status_code == 404
    client = client_for(provider_member)
    assert client.get(ITEMS, {"owner": "me"}).json()["count"] == 1
    assert client_for(requester).get(ITEMS, {"owner": "me"}).json()["count"] == 0
    assert client.get(ITEMS, {"done": "true"}).json()["count"] == 0
    assert client.get(ITEMS, {"done": "false"}).json()["count"] == 1
    assert client.get(ITEMS, {"review": item.review_id}).json()["count"] == 1
    assert client.delete(f"{ITEMS}{item.pk}/").status_code == 405
    assert client.patch(f"{ITEMS}{item.pk}/", {"title": "x"}, format="json").status_code == 405


@pytest.mark.parametrize("n", [2, 15])
def test_the_action_item_list_uses_a_constant_number_of_queries(
    n, review, provider_lead, provider_member, django_assert_max_num_queries
):
    for i in range(n):
        services.action_item_create(
            actor=provider_lead,
            title=f"Item {i}",
            owner=provider_member if i % 2 else provider_lead,
            due_date=REVIEW_DAY.date() + timedelta(days=i + 1),
            review=review,
            now=REVIEW_DAY,
        )
    with django_assert_max_num_queries(ITEM_LIST_QUERIES):
        body = client_for(provider_member).get(ITEMS).json()
    assert body["count"] == n
    assert [r["due_date"] for r in body["results"]] == sorted(
        r["due_date"] for r in body["results"]
    )


def test_a_breach_to_review_shows_how_long_the_clock_ran(file_handoff, provider_member):
    # A P2 (acknowledge within 2 h, around the clock) acknowledged after 3 h.
    handoff = file_handoff("P2", at=MONDAY_10)
    handoff_services.handoff_acknowledge(
        handoff=handoff, actor=provider_member, now=MONDAY_10 + timedelta(hours=3)
    )
    clock = Clock.objects.get(handoff=handoff, metric="acknowledge")
    body = client_for(provider_member).get(TO_REVIEW).json()
    assert [c["id"] for c in body["results"]] == [clock.pk]
    assert body["results"][0]["consumed_seconds"] == 3 * 3600
