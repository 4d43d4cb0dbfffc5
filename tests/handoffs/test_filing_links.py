"""Saved "file a handoff" links survive amendments: links name the agreement series
(`?series=<id>`) and file under its active version; an old `?agreement=<id>` link of a
version since superseded files under the series' active version too."""

import pytest
from django.urls import reverse

from apps.agreements import services as agreement_services
from apps.handoffs.models import Handoff

from .test_pages_create import FULL

pytestmark = pytest.mark.django_db


def amended(agreement, first, second):
    """Both leads approve the next version (P2 resolve 60 h)."""
    draft = agreement_services.agreement_amend(agreement=agreement, actor=first)
    rows = []
    for target in draft.targets.all():
        data = {f: getattr(target, f) for f in agreement_services.TARGET_FIELDS}
        if target.priority == "P2":
            data["resolve_seconds"] = 60 * 3600
        rows.append(data)
    draft = agreement_services.agreement_update_draft(
        agreement=draft, actor=first, targets=rows, change_summary="P2 resolve 60 h."
    )
    agreement_services.agreement_submit(agreement=draft, actor=first)
    agreement_services.agreement_approve(agreement=draft, actor=first)
    agreement_services.agreement_approve(agreement=draft, actor=second)
    draft.refresh_from_db()
    assert draft.status == "active"
    return draft


@pytest.fixture
def leads(provider_lead, requester_lead):
    return provider_lead, requester_lead


def test_a_series_link_files_under_the_active_version_after_an_amendment(
    client, requester, agreement, leads
):
    link = f"{reverse('handoffs:new')}?series={agreement.series_id}"
    client.force_login(requester)
    assert client.get(link).context["agreement"] == agreement
    v2 = amended(agreement, *leads)

    response = client.get(link)
    assert response.status_code == 200
    assert response.context["agreement"] == v2
    assert f'?series={agreement.series_id}"' in response.content.decode()  # the form posts back
    response = client.post(link, FULL)
    assert response.status_code == 302
    assert Handoff.objects.get().agreement == v2


def test_an_old_agreement_link_of_a_superseded_version_resolves_to_the_active_one(
    client, requester, agreement, leads
):
    old_link = f"{reverse('handoffs:new')}?agreement={agreement.pk}"
    v2 = amended(agreement, *leads)
    client.force_login(requester)
    response = client.get(old_link)
    assert response.status_code == 200
    assert response.context["agreement"] == v2
    assert "superseded" not in response.content.decode()
    assert client.post(old_link, FULL).status_code == 302
    assert Handoff.objects.get().agreement == v2


def test_the_choice_links_name_the_series(client, requester, agreement):
    client.force_login(requester)
    html = client.get(reverse("handoffs:new")).content.decode()
    assert f'href="?series={agreement.series_id}"' in html
    assert "?agreement=" not in html


@pytest.mark.parametrize("value", ["", "0", "-1", "²", "abc", "99999999999999999999", "1e5"])
def test_a_bad_series_is_a_404_or_the_choice(client, requester, agreement, value):
    client.force_login(requester)
    response = client.get(f"{reverse('handoffs:new')}?series={value}")
    assert response.status_code in (200, 404)
    if value:
        assert response.status_code == 404


def test_a_series_of_other_teams_is_refused(client, outsider, agreement):
    client.force_login(outsider)
    response = client.get(f"{reverse('handoffs:new')}?series={agreement.series_id}")
    assert response.status_code in (403, 404)
    assert not Handoff.objects.exists()
