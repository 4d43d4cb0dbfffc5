"""Two versions side by side, changed rows highlighted."""

import re

import pytest
from django.urls import reverse

from apps.agreements import services
from tests.factories import AgreementFactory, AgreementSeriesFactory, standard_targets

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(provider_team, requesting_team, provider_lead):
    series = AgreementSeriesFactory(provider_team=provider_team, requesting_team=requesting_team)
    v1 = AgreementFactory(series=series, title="Escalations")
    v2 = services.agreement_amend(agreement=v1, actor=provider_lead)
    targets = standard_targets()
    targets[0]["resolve_seconds"] = 6 * 3600  # P1 resolve: 8 h → 6 h
    services.agreement_update_draft(
        agreement=v2, actor=provider_lead, targets=targets, title="Escalations (tighter P1)"
    )
    return v1, v2


def compare(client, agreement, other=None, **params):
    query = {"with": other.pk} if other else {}
    query.update(params)
    return client.get(reverse("agreements:compare", args=[agreement.pk]), query)


def row(html: str, label: str) -> str:
    pattern = rf"<tr[^>]*>\s*<th scope=\"row\"[^>]*>{re.escape(label)}(?=[\s<]).*?</tr>"
    match = re.search(pattern, html, re.S)
    assert match, f"no row {label!r}"
    return match.group(0)


def test_compare_highlights_a_changed_target(client, provider_member, versions):
    v1, v2 = versions
    client.force_login(provider_member)
    response = compare(client, v2, v1)
    assert response.status_code == 200
    # Older on the left.
    assert (response.context["left"], response.context["right"]) == (v1, v2)
    html = response.content.decode()
    changed = row(html, "P1 resolve")
    assert 'class="table-warning"' in changed and "changed" in changed
    assert re.search(r"<td>8 h</td>\s*<td>6 h</td>", changed)
    unchanged = row(html, "P2 acknowledge")
    assert "table-warning" not in unchanged
    title = row(html, "Title")
    assert "table-warning" in title and "Escalations (tighter P1)" in title
    targets = next(s for s in response.context["sections"] if s["title"] == "Priority targets")
    assert targets["changes"] == 1


def test_compare_can_show_only_the_changes(client, provider_member, versions):
    v1, v2 = versions
    client.force_login(provider_member)
    html = compare(client, v1, v2, only="changes").content.decode()
    assert "P1 resolve" in html
    assert "P2 acknowledge" not in html


def test_compare_without_a_version_picks_the_other_one(client, provider_member, versions):
    v1, v2 = versions
    client.force_login(provider_member)
    response = compare(client, v2)
    assert response.status_code == 302
    assert response["Location"].endswith(f"?with={v1.pk}")


def test_compare_needs_both_visible_and_of_one_series(
    client, provider_member, outsider, versions, provider_team, other_team
):
    v1, v2 = versions
    elsewhere = AgreementFactory(
        series=AgreementSeriesFactory(provider_team=provider_team, requesting_team=other_team)
    )
    client.force_login(provider_member)
    assert compare(client, v1, elsewhere).status_code == 404
    assert compare(client, v1, **{"with": "abc"}).status_code == 404
    assert compare(client, v1, **{"with": "999999"}).status_code == 404
    # The draft v2 is not the outsider's to see, from either end.
    client.force_login(outsider)
    assert compare(client, v1, v2).status_code == 404
    assert compare(client, v2, v1).status_code == 404


def test_compare_lists_triage_and_steps_by_key(client, provider_lead, versions):
    v1, v2 = versions
    services.agreement_update_draft(
        agreement=v2,
        actor=provider_lead,
        triage_fields=[{"key": "steps", "label": "Steps to reproduce", "kind": "long_text"}],
        steps=[{"metric": "resolve", "percent": 75, "notify": "both_leads"}],
    )
    client.force_login(provider_lead)
    html = compare(client, v1, v2).content.decode()
    assert "table-warning" not in row(html, "steps")
    environment = row(html, "environment")
    assert "table-warning" in environment and "—" in environment
    ladder = row(html, "Resolve at 75 %")
    assert "table-warning" in ladder and "Both leads" in ladder
