"""No input makes the agreements API answer 500: random JSON in every field and part."""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from apps.agreements import services
from tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["P1", "P9", "resolve", "user", "choice", "2030-01-01", "", "x" * 300]),
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def part(names):
    return st.one_of(junk, st.dictionaries(st.sampled_from(names), junk, max_size=len(names)))


parts = {
    "targets": services.TARGET_FIELDS,
    "triage_fields": services.TRIAGE_FIELDS,
    "steps": services.STEP_FIELDS,
}
body = st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys(services.AGREEMENT_FIELDS, junk),
        "provider_team": junk,
        "requesting_team": junk,
        **{
            name: st.one_of(junk, st.lists(part(fields), max_size=4))
            for name, fields in parts.items()
        },
    },
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def lead(requester_lead):
    client = APIClient()
    client.force_authenticate(requester_lead)
    return client


@FUZZ
@given(payload=body)
def test_creating_never_answers_500(lead, provider_team, requesting_team, payload):
    payload.setdefault("provider_team", provider_team.pk)
    payload.setdefault("requesting_team", requesting_team.pk)
    response = lead.post("/api/agreements/", payload, format="json")
    assert response.status_code in (201, 400, 403), response.content[:300]


@FUZZ
@given(payload=body)
def test_updating_a_draft_never_answers_500(lead, provider_team, requesting_team, payload):
    draft = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team, status="draft"
    )
    response = lead.patch(f"/api/agreements/{draft.pk}/", payload, format="json")
    assert response.status_code in (200, 400), response.content[:300]


def test_the_format_is_a_query_parameter_and_a_json_suffix_is_no_route(
    lead, provider_lead, provider_team, requesting_team
):
    # The router has no `.json` twin of each route any more (there, an action that did not
    # take a `format` argument answered 500): `?format=json` chooses the format.
    draft = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team, status="draft"
    )
    response = lead.post(f"/api/agreements/{draft.pk}/submit/?format=json", {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "in_review"
    for action in ("submit", "approve", "request-changes", "amend", "retire"):
        response = lead.post(f"/api/agreements/{draft.pk}/{action}.json", {}, format="json")
        assert response.status_code == 404, (action, response.content[:300])
    assert lead.get(f"/api/agreements/{draft.pk}.json").status_code == 404
    now = timezone.now()
    window = services.exception_window_request(
        actor=provider_lead,
        provider_team=provider_team,
        start=now,
        end=now + timedelta(hours=2),
        reason="Outage",
        affected_customers="All customers",
        communication_plan="Status page",
    )
    client = APIClient()
    client.force_authenticate(provider_lead)
    for action in ("approve", "reject"):
        response = client.post(f"/api/exception-windows/{window.pk}/{action}.json", {})
        assert response.status_code == 404, (action, response.content[:300])
