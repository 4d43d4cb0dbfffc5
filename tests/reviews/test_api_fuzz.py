"""No input makes the reviews API answer 500: random JSON in every field of every write
(proposed targets and what-if targets nested as deep as they go), and random query
strings on the lists."""

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import client_for

from .conftest import REVIEW_DAY

pytestmark = pytest.mark.django_db

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["P1", "P9", "capacity", "me", "", "\x00", "x" * 300, "1", "2026-04-15"]),
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8)), max_size=3),
)
seconds = st.one_of(
    st.none(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from([0, 1, 60, 1800, 2_147_483_647, 2_147_483_648]),
    junk,
)
tier = st.dictionaries(
    st.sampled_from(["acknowledge", "action_plan", "resolve", "respond", "", "\x00"]),
    seconds,
    max_size=4,
)
targets = st.one_of(
    junk,
    st.dictionaries(
        st.sampled_from(["P1", "P2", "P3", "P4", "P9", "p1", "", "\x00"]),
        st.one_of(tier, junk),
        max_size=5,
    ),
)
review_body = st.fixed_dictionaries(
    {},
    optional={
        "findings": junk,
        "decisions": junk,
        "proposed_targets": targets,
        "targets": targets,
        "comment": junk,
    },
)
breach_body = st.fixed_dictionaries(
    {},
    optional={
        "clock": junk,
        "root_cause": st.one_of(junk, st.sampled_from(["capacity", "customer"])),
        "what_happened": junk,
        "prevention": junk,
    },
)
item_body = st.fixed_dictionaries(
    {},
    optional={
        "review": junk,
        "breach_review": junk,
        "title": junk,
        "owner": junk,
        "due_date": junk,
        "done": junk,
    },
)
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# What a client may hear back: never 500.
ANSWERS = (200, 201, 400, 403, 404, 405, 409)


@pytest.fixture(autouse=True)
def _review_day():
    with time_machine.travel(REVIEW_DAY, tick=False):
        yield


@FUZZ
@given(payload=review_body, action=st.sampled_from(["", "start/", "sign-off/", "what-if/"]))
def test_review_writes_never_answer_500(started_review, provider_lead, requester, payload, action):
    url = f"/api/reviews/{started_review.pk}/{action}"
    for user in (provider_lead, requester):
        client = client_for(user)
        response = (
            client.patch(url, payload, format="json")
            if not action
            else client.post(url, payload, format="json")
        )
        assert response.status_code in ANSWERS, response.content[:300]


@FUZZ
@given(proposed=targets)
def test_what_if_and_proposals_never_answer_500(started_review, provider_lead, proposed):
    client = client_for(provider_lead)
    url = f"/api/reviews/{started_review.pk}/"
    response = client.post(f"{url}what-if/", {"targets": proposed}, format="json")
    assert response.status_code in (200, 400), response.content[:300]
    response = client.patch(url, {"proposed_targets": proposed}, format="json")
    assert response.status_code in (200, 400, 409), response.content[:300]


@FUZZ
@given(payload=breach_body)
def test_breach_reviews_never_answer_500(breached_clock, provider_member, requester, payload):
    clock = breached_clock()
    payload.setdefault("clock", clock.pk)
    for user in (provider_member, requester):
        response = client_for(user).post("/api/breach-reviews/", payload, format="json")
        assert response.status_code in ANSWERS, response.content[:300]


@FUZZ
@given(payload=item_body, done=junk)
def test_action_items_never_answer_500(review, provider_lead, provider_member, payload, done):
    client = client_for(provider_lead)
    response = client.post("/api/action-items/", payload, format="json")
    assert response.status_code in ANSWERS, response.content[:300]
    if response.status_code == 201:
        item = response.json()["id"]
        response = client_for(provider_member).post(
            f"/api/action-items/{item}/done/", {"done": done}, format="json"
        )
        assert response.status_code in ANSWERS, response.content[:300]


params = st.dictionaries(
    st.sampled_from(
        [
            "team",
            "series",
            "agreement",
            "status",
            "open",
            "due_before",
            "due_after",
            "root_cause",
            "priority",
            "metric",
            "done",
            "owner",
            "review",
            "breach_review",
            "page",
        ]
    ),
    st.one_of(
        st.text(max_size=20),
        st.sampled_from(["true", "false", "support", "completed", "me", "2026-04-01", "\x00"]),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
    ),
    max_size=4,
)


@FUZZ
@given(
    query=params,
    url=st.sampled_from(
        [
            "/api/reviews/",
            "/api/breach-reviews/",
            "/api/breach-reviews/to-review/",
            "/api/action-items/",
        ]
    ),
)
def test_listing_never_answers_500(review, provider_member, query, url):
    response = client_for(provider_member).get(url, query)
    assert response.status_code in (200, 400, 404), response.content[:300]
