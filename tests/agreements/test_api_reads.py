"""Listing agreements: who sees what, the shared FilterSet, and a constant query budget."""

import pytest
from django.utils import timezone

from apps.agreements.models import AgreementApproval, Status
from apps.teams.models import Role
from tests.factories import AgreementFactory, MembershipFactory, TeamFactory
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

URL = "/api/agreements/"
# count, page, targets, triage fields, steps, approvals (+ their teams and users joined)
LIST_QUERIES = 6


def make_agreements(n, *, status=Status.ACTIVE):
    made = []
    for i in range(n):
        provider = TeamFactory(name=f"Provider {i}")
        requester = TeamFactory(name=f"Requester {i}")
        lead = MembershipFactory(team=provider, role=Role.LEAD).user
        agreement = AgreementFactory(
            series__provider_team=provider, series__requesting_team=requester, status=status
        )
        AgreementApproval.objects.create(
            agreement=agreement, team=provider, user=lead, approved_at=timezone.now()
        )
        made.append(agreement)
    return made


@pytest.mark.parametrize("n", [3, 30])
def test_the_list_uses_a_constant_number_of_queries(n, outsider, django_assert_max_num_queries):
    make_agreements(n)
    client = client_for(outsider)
    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(URL)
    body = response.json()
    assert body["count"] == n
    assert all(len(a["targets"]) == 4 and len(a["approvals"]) == 1 for a in body["results"])


def test_the_list_is_paginated(outsider):
    make_agreements(2)
    body = client_for(outsider).get(URL).json()
    assert {"count", "next", "previous", "results"} <= set(body)


def test_drafts_and_reviews_are_listed_only_for_the_two_teams(
    provider_team, requesting_team, outsider, provider_member, requester
):
    for status in (Status.DRAFT, Status.ACTIVE):
        AgreementFactory(
            series__provider_team=provider_team,
            series__requesting_team=requesting_team,
            status=status,
            version=1 if status == Status.DRAFT else 2,
            title=status,
        )
    make_agreements(1, status=Status.IN_REVIEW)

    def titles(user):
        return sorted(a["title"] for a in client_for(user).get(URL).json()["results"])

    assert titles(outsider) == ["active"]
    assert titles(provider_member) == ["active", "draft"]
    assert titles(requester) == ["active", "draft"]


def test_the_list_filters_with_the_shared_filterset(
    provider_team, requesting_team, other_team, outsider
):
    AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team, title="A"
    )
    AgreementFactory(
        series__provider_team=other_team,
        series__requesting_team=requesting_team,
        title="B",
        status=Status.RETIRED,
        kind="request",
    )
    client = client_for(outsider)

    def titles(query):
        response = client.get(f"{URL}?{query}")
        assert response.status_code == 200, response.json()
        return sorted(a["title"] for a in response.json()["results"])

    assert titles("provider_team=engineering") == ["A"]
    assert titles("requesting_team=support") == ["A", "B"]
    assert titles("team=finance") == ["B"]
    assert titles("status=retired") == ["B"]
    assert titles("status=active&status=retired") == ["A", "B"]
    assert titles("kind=request") == ["B"]
    assert titles("q=b") == ["B"]


def test_the_browsable_api_renders(outsider, provider_team, requesting_team):
    agreement = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team
    )
    client = client_for(outsider)
    assert client.get(URL, HTTP_ACCEPT="text/html").status_code == 200
    assert client.get(f"{URL}{agreement.pk}/", HTTP_ACCEPT="text/html").status_code == 200


def test_the_schema_documents_the_agreement_endpoints(client, outsider):
    client.force_login(outsider)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = response.json()["paths"]
    for path in [
        "/api/agreements/",
        "/api/agreements/{id}/",
        "/api/agreements/{id}/submit/",
        "/api/agreements/{id}/approve/",
        "/api/agreements/{id}/request-changes/",
        "/api/agreements/{id}/amend/",
        "/api/agreements/{id}/retire/",
        "/api/exception-windows/",
        "/api/exception-windows/{id}/approve/",
        "/api/exception-windows/{id}/reject/",
    ]:
        assert path in paths, path
    assert "delete" not in paths["/api/agreements/{id}/"]
    assert {"400", "403", "404", "409"} <= set(
        paths["/api/agreements/{id}/approve/"]["post"]["responses"]
    )
