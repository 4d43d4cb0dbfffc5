"""The agreements list: the shared FilterSet, a constant query count, the draft button."""

import pytest
from django.urls import reverse

from apps.agreements.models import Kind, Status
from tests.factories import AgreementFactory, AgreementSeriesFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agreements(provider_team, requesting_team, other_team):
    support_eng = AgreementSeriesFactory(
        provider_team=provider_team, requesting_team=requesting_team
    )
    finance_eng = AgreementSeriesFactory(provider_team=provider_team, requesting_team=other_team)
    support_fin = AgreementSeriesFactory(provider_team=other_team, requesting_team=requesting_team)
    return {
        "escalation": AgreementFactory(
            series=support_eng, title="Escalations v1", status=Status.SUPERSEDED
        ),
        "escalation2": AgreementFactory(series=support_eng, title="Escalations", version=2),
        "invoices": AgreementFactory(series=finance_eng, title="Invoice bugs", kind=Kind.REQUEST),
        "refunds": AgreementFactory(series=support_fin, title="Refund handoffs", kind=Kind.HANDOFF),
        "draft": AgreementFactory(
            series=support_fin, title="Refund draft", version=2, status=Status.DRAFT
        ),
    }


def titles(response) -> list[str]:
    return sorted(a.title for a in response.context["agreements"])


def test_list_shows_what_the_user_may_see(client, requester, outsider, agreements):
    client.force_login(outsider)  # Finance: a party to the refund draft
    response = client.get(reverse("agreements:list"))
    assert response.status_code == 200
    assert titles(response) == [
        "Escalations",
        "Escalations v1",
        "Invoice bugs",
        "Refund draft",
        "Refund handoffs",
    ]
    html = response.content.decode()
    assert 'Support <i class="bi bi-arrow-right" aria-label="to"></i> Engineering' in html
    # The P1 summary, in readable units.
    assert "acknowledge within 30 min, action plan within 2 h, resolve within 8 h (24×7)" in html
    assert "v2" in html and "Superseded" in html


def test_drafts_of_other_teams_are_not_listed(client, provider_member, agreements):
    client.force_login(provider_member)  # Engineering is not party to the refund draft
    response = client.get(reverse("agreements:list"))
    assert "Refund draft" not in titles(response)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"team": "finance"}, ["Invoice bugs", "Refund draft", "Refund handoffs"]),
        ({"team": "support", "status": "active"}, ["Escalations", "Refund handoffs"]),
        ({"kind": "request"}, ["Invoice bugs"]),
        ({"kind": "handoff"}, ["Refund handoffs"]),
        ({"status": ["superseded", "draft"]}, ["Escalations v1", "Refund draft"]),
        ({"q": "refund"}, ["Refund draft", "Refund handoffs"]),
        ({"provider_team": "finance", "status": "active"}, ["Refund handoffs"]),
    ],
)
def test_list_filters_by_team_kind_status_and_search(client, staff, agreements, query, expected):
    client.force_login(staff)
    response = client.get(reverse("agreements:list"), query)
    assert response.status_code == 200
    assert titles(response) == expected


def test_filter_form_keeps_the_choices_made(client, staff, agreements):
    client.force_login(staff)
    html = client.get(
        reverse("agreements:list"), {"team": "finance", "status": ["draft"]}
    ).content.decode()
    assert '<option value="finance" selected>' in html
    assert 'value="draft" class="form-check-input" id="id_status_0" checked' in html


def test_unknown_filter_values_do_not_break_the_page(client, staff, agreements):
    client.force_login(staff)
    response = client.get(reverse("agreements:list"), {"team": "nope", "status": "bogus"})
    assert response.status_code == 200


def test_list_uses_a_constant_number_of_queries(
    client, requester_lead, provider_team, requesting_team, django_assert_max_num_queries
):
    client.force_login(requester_lead)
    for _ in range(3):
        AgreementFactory(
            series=AgreementSeriesFactory(
                provider_team=provider_team, requesting_team=requesting_team
            )
        )
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("agreements:list"))
    for n in range(30):
        AgreementFactory(
            series=AgreementSeriesFactory(
                provider_team=TeamFactory(name=f"Provider {n}"), requesting_team=requesting_team
            )
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("agreements:list"))
    assert len(response.context["agreements"]) == 33
    assert response.content.decode().count('data-testid="agreement-row"') == 33


def test_new_agreement_button_only_for_leads(client, requester, requester_lead, staff):
    client.force_login(requester)
    assert 'data-testid="new-agreement"' not in client.get("/agreements/").content.decode()
    for user in (requester_lead, staff):
        client.force_login(user)
        assert 'data-testid="new-agreement"' in client.get("/agreements/").content.decode()


def test_navigation_points_at_the_agreements_list(client, requester):
    client.force_login(requester)
    html = client.get(reverse("dashboard")).content.decode()
    assert 'href="/agreements/"' in html
    assert "Not built yet" not in client.get("/agreements/").content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("agreements:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
