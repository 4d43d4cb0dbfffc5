"""The requester's side (issue 13, item 5): "My requests" on the outgoing queue (mine, my
team's, waiting on us, resolved awaiting my confirmation) and on the dashboard, each
handoff with its status and time left (the one verdict) or, resolved, when it closes
unless confirmed; only what the reader may see, at a fixed number of queries."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.handoffs import services
from apps.handoffs.models import Handoff
from apps.teams.models import Membership
from tests.helpers import MONDAY_10, TRIAGE, berlin, client_for

pytestmark = pytest.mark.django_db

OUTGOING = "/queues/support/outgoing/"
# Monday 2 March 2026, 11:00 Berlin: the page is read then.
READ_AT = berlin(2026, 3, 2, 11, 0)


def rows(response) -> list[int]:
    return [row["handoff"].pk for row in response.context["rows"]]


def row_of(response, pk) -> dict:
    return next(row for row in response.context["rows"] if row["handoff"].pk == pk)


def section(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}"', 1)[1].split("</section>", 1)[0]


def _file(agreement, actor, title, priority="P3", at=MONDAY_10):
    return services.handoff_create(
        actor=actor, agreement=agreement, title=title, priority=priority, triage=TRIAGE, now=at
    )


@pytest.fixture
def requests(agreement, requester, requester_lead, provider_member):
    """What Support handed Engineering on Monday morning: Rita's new, waiting, resolved
    and closed handoffs, and Rob's P2."""
    made = {
        "new": _file(agreement, requester, "Checkout crashes"),
        "waiting": _file(agreement, requester, "Refund stuck"),
        "resolved": _file(agreement, requester, "Invoice typo"),
        "closed": _file(agreement, requester, "Old login bug"),
        "robs": _file(agreement, requester_lead, "Rob's export", "P2"),
    }
    at = berlin(2026, 3, 2, 10, 15)
    for key in ("waiting", "resolved", "closed"):
        services.handoff_acknowledge(handoff=made[key], actor=provider_member, now=at)
    services.handoff_wait_on_requester(
        handoff=made["waiting"], actor=provider_member, question="Which order?", now=at
    )
    for key in ("resolved", "closed"):
        services.handoff_resolve(
            handoff=made[key], actor=provider_member, resolution="Fixed", now=at
        )
    services.handoff_close(handoff=made["closed"], actor=requester, now=at)
    return {key: handoff.pk for key, handoff in made.items()}


def get(client, url, **params):
    with time_machine.travel(READ_AT, tick=False):
        return client.get(url, params)


# --- the outgoing queue's tab ------------------------------------------------------------


@pytest.mark.parametrize(
    ("show", "expected"),
    [
        ("mine", {"new", "waiting", "resolved"}),
        ("team", {"new", "waiting", "resolved", "robs"}),
        ("waiting", {"waiting"}),
        ("confirm", {"resolved"}),
        ("", {"new", "waiting", "resolved"}),  # mine unless said
        ("nonsense", {"new", "waiting", "resolved"}),
    ],
)
def test_my_requests_narrow_four_ways(client, requester, requests, show, expected):
    client.force_login(requester)
    response = get(client, OUTGOING, tab="requests", show=show)
    assert response.status_code == 200
    assert set(rows(response)) == {requests[key] for key in expected}
    assert response.context["tab"] == "requests"
    assert response.context["show"] == (show if show in ("team", "waiting", "confirm") else "mine")


def test_mine_and_to_confirm_are_the_readers_own(client, requester_lead, requests):
    client.force_login(requester_lead)
    assert rows(get(client, OUTGOING, tab="requests")) == [requests["robs"]]
    assert rows(get(client, OUTGOING, tab="requests", show="confirm")) == []
    # Rob's team view still holds Rita's work.
    team = set(rows(get(client, OUTGOING, tab="requests", show="team")))
    assert requests["resolved"] in team


def test_each_row_shows_status_and_time_left_or_when_it_closes(client, requester, requests):
    client.force_login(requester)
    response = get(client, OUTGOING, tab="requests")
    html = response.content.decode()
    new = row_of(response, requests["new"])
    # The one verdict: P3, 8 business hours to acknowledge, one used.
    assert (new["reading"].remaining, new["reading"].rag) == (7 * 3600, "green")
    row = html.split(f'data-handoff="{requests["new"]}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-testid="handoff-status">New<' in row
    assert "7 business h left" in row
    assert "filed by you" in row
    # Resolved Monday 10:15: it closes five business days later, Monday 9 March 10:15,
    # unless Rita confirms or reopens it (shown in her zone, UTC).
    resolved = row_of(response, requests["resolved"])
    assert resolved["closes_at"] == berlin(2026, 3, 9, 10, 15)
    row = html.split(f'data-handoff="{requests["resolved"]}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-testid="handoff-status">Resolved<' in row
    assert "closes Mon 9 Mar, 09:15 UTC unless confirmed or reopened" in row
    waiting = html.split(f'data-handoff="{requests["waiting"]}"', 1)[1].split("</tr>", 1)[0]
    assert "Waiting on requester" in waiting and "paused" in waiting


def test_the_tab_and_its_views_link_to_each_other_and_keep_the_filters(client, requester, requests):
    client.force_login(requester)
    html = get(client, OUTGOING, tab="requests", show="team", priority="P2").content.decode()
    assert 'data-testid="tab-requests"' in html
    assert 'href="?tab=requests&amp;show=confirm&amp;priority=P2"' in html
    assert '<input type="hidden" name="show" value="team">' in html
    response = get(client, OUTGOING, tab="requests", show="team", priority="P2")
    assert rows(response) == [requests["robs"]]
    # Other tabs show no views.
    assert 'data-testid="request-views"' not in get(client, OUTGOING).content.decode()


def test_another_team_gets_no_outgoing_queue_of_support(
    client, outsider, provider_member, staff, requests
):
    for persona in (outsider, provider_member):
        client.force_login(persona)
        assert get(client, OUTGOING, tab="requests", show="team").status_code == 404
    client.force_login(staff)
    response = get(client, OUTGOING, tab="requests", show="team")
    assert set(rows(response)) == {requests[k] for k in ("new", "waiting", "resolved", "robs")}


@pytest.mark.parametrize("filed_by", ["9" * 25, "²", "-1", "nobody"])
def test_odd_filed_by_values_never_break_the_queue(client, requester, requests, filed_by):
    client.force_login(requester)
    response = get(client, OUTGOING, tab="all", filed_by=filed_by)
    assert response.status_code == 200
    assert rows(response) == []


def test_the_api_lists_what_i_filed(requester, requests):
    with time_machine.travel(READ_AT, tick=False):
        response = client_for(requester).get("/api/handoffs/", {"filed_by": "me"})
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["results"]}
    assert ids == {requests[k] for k in ("new", "waiting", "resolved", "closed")}


def _count_queries(client, url, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert get(client, url, **params).status_code == 200
    return len(queries.captured_queries)


@pytest.mark.parametrize(("url", "params"), [(OUTGOING, {"tab": "requests"}), ("/", {})])
def test_the_tab_and_the_panel_cost_the_same_queries_for_few_or_many_requests(
    client, agreement, requester, provider_member, django_assert_max_num_queries, url, params
):
    def add(count):
        for index in range(count):
            handoff = _file(agreement, requester, f"Request {index}", ("P1", "P2", "P3")[index % 3])
            if index % 3 == 0:
                services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
                services.handoff_resolve(
                    handoff=handoff, actor=provider_member, resolution="Done", now=MONDAY_10
                )
            elif index % 3 == 1:
                services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
                services.handoff_wait_on_requester(
                    handoff=handoff, actor=provider_member, question="?", now=MONDAY_10
                )

    client.force_login(requester)
    add(3)
    few = _count_queries(client, url, **params)
    add(30)
    with django_assert_max_num_queries(few):
        response = get(client, url, **params)
    html = response.content.decode()
    if url == OUTGOING:
        assert len(rows(response)) == 33
    else:
        assert len(re.findall(r'data-testid="dashboard-row"', section(html, "my-requests"))) == 8


def test_the_queue_index_links_to_my_requests(client, requester, requests):
    client.force_login(requester)
    html = client.get(reverse("queues:index")).content.decode()
    assert 'href="/queues/support/outgoing/?tab=requests"' in html


# --- the dashboard panel -----------------------------------------------------------------


def test_the_dashboard_lists_my_requests_what_needs_me_first(client, requester, requests):
    client.force_login(requester)
    html = get(client, reverse("dashboard")).content.decode()
    panel = section(html, "my-requests")
    listed = [int(pk) for pk in re.findall(r'data-handoff="(\d+)"', panel)]
    # Waiting on Rita and resolved for her to confirm come before the new one; Rob's and
    # the closed one are not hers to follow here.
    assert set(listed[:2]) == {requests["waiting"], requests["resolved"]}
    assert listed[2:] == [requests["new"]]
    assert 'data-testid="requests-waiting">1 waiting on you<' in panel
    assert 'data-testid="requests-to-confirm">1 to confirm<' in panel
    assert "confirm or reopen by Mon 9 Mar, 09:15 UTC" in panel
    assert "7 business h left" in panel
    assert 'href="/queues/support/outgoing/?tab=requests"' in panel


def test_the_panel_shows_only_what_the_reader_may_see(
    client, requester, provider_member, outsider, requests, requesting_team
):
    for persona in (provider_member, outsider):
        client.force_login(persona)
        panel = section(get(client, reverse("dashboard")).content.decode(), "my-requests")
        assert "data-handoff=" not in panel
    # Rita leaves Support: what she filed there is no longer hers to see.
    Membership.objects.filter(user=requester, team=requesting_team).delete()
    client.force_login(requester)
    panel = section(get(client, reverse("dashboard")).content.decode(), "my-requests")
    assert "data-handoff=" not in panel
    assert "Nothing you filed is open" in panel


def test_a_confirmed_request_leaves_the_panel(client, requester, requests):
    services.handoff_close(
        handoff=Handoff.objects.get(pk=requests["resolved"]),
        actor=requester,
        now=MONDAY_10 + timedelta(minutes=30),
    )
    client.force_login(requester)
    panel = section(get(client, reverse("dashboard")).content.decode(), "my-requests")
    assert f'data-handoff="{requests["resolved"]}"' not in panel
    assert "to confirm" not in panel
