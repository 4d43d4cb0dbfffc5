"""The handoff detail page: everything about the handoff, its clocks read in the viewer's
time zone, the timeline, and only the actions the viewer may take."""

import re
from datetime import timedelta

import pytest
from django.db import connection

from apps.accounts.models import User
from apps.agreements.models import Agreement
from apps.handoffs import services
from apps.handoffs.models import Handoff
from tests.helpers import MONDAY_10

pytestmark = pytest.mark.django_db


@pytest.fixture
def handoff(file_handoff):
    return file_handoff(
        "P3",
        description="Card payments fail since the deploy.",
        customer_segment="enterprise",
        impacted_customers=12,
        triage={
            "steps": "1. open checkout",
            "environment": "production",
            "logs": "https://logs.example.com/42",
        },
    )


def test_the_detail_page_shows_the_handoff_and_its_clocks_in_the_viewers_zone(
    client, provider_member, handoff, time_machine
):
    provider_member.time_zone = "America/New_York"
    provider_member.save()
    time_machine.move_to(MONDAY_10 + timedelta(hours=1), tick=False)
    client.force_login(provider_member)
    response = client.get(handoff.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert f"#{handoff.pk}</span> Checkout crashes" in html
    assert "Card payments fail since the deploy." in html
    assert re.search(r'data-testid="segment">Enterprise<', html)
    assert re.search(r'data-testid="impacted">12<', html)
    assert handoff.agreement.get_absolute_url() in html
    # Triage answers under the template's labels.
    assert re.search(r"<dt[^>]*>Steps to reproduce</dt>\s*<dd[^>]*>1. open checkout</dd>", html)
    assert re.search(r"<dt[^>]*>Environment</dt>\s*<dd[^>]*>production</dd>", html)
    assert 'href="https://logs.example.com/42"' in html

    acknowledge = next(r for r in response.context["readings"] if r.clock.metric == "acknowledge")
    assert (acknowledge.consumed, acknowledge.percent, acknowledge.rag) == (3600, 12, "green")
    row = html[html.index('data-testid="clock-acknowledge"') :]
    row = row[: row.index("</tr>")]
    assert "8 business h" in row  # target
    assert "1 business h" in row  # used
    # Due Tue 10:00 in Berlin is 04:00 in New York.
    assert "Tue 3 Mar 2026, 04:00 EST" in row
    assert ">running<" in row
    assert "12 %" in row
    assert "40 business h" in html  # the action plan target
    assert "80 business h" in html  # the resolve target


def test_the_timeline_shows_who_did_what_when_and_what_changed(
    client, requester, provider_lead, handoff
):
    services.handoff_acknowledge(handoff=handoff, actor=provider_lead, now=MONDAY_10)
    services.handoff_change_priority(
        handoff=handoff,
        actor=provider_lead,
        priority="P2",
        reason="A key account is affected",
        now=MONDAY_10 + timedelta(minutes=5),
    )
    client.force_login(requester)
    response = client.get(handoff.get_absolute_url())
    html = response.content.decode()
    kinds = [event.kind for event in response.context["events"]]
    # The service records the met clock first, at the same instant as the acknowledgement.
    assert kinds == ["created", "acknowledged", "clock_met", "priority"]
    lena = provider_lead.display_name
    # Each event reads as a sentence (tests/handoffs/test_timeline_sentences.py).
    assert (
        f'<strong>{lena}</strong> <span class="text-body-secondary">(provider lead)</span>' in html
    )
    assert f'data-testid="event-sentence">Acknowledged; assigned to {lena}</span>' in html
    assert "Acknowledge target met after less than a minute (target 8 business h)" in html
    assert (
        'data-testid="event-sentence">Priority P3 → P2</span>: '
        '<span data-testid="event-comment">A key account is affected</span>'
    ) in html
    # Times in the viewer's zone (UTC for this persona): 10:05 Berlin is 09:05 UTC.
    assert "Mon 2 Mar 2026, 09:05 UTC" in html


def test_a_requester_sees_only_the_actions_of_their_side(client, requester, handoff):
    client.force_login(requester)
    response = client.get(handoff.get_absolute_url())
    assert response.context["actions"] == {"cancel", "priority", "comment"}
    html = response.content.decode()
    assert 'data-testid="action-acknowledge"' not in html
    assert 'data-testid="panel-assign"' not in html
    assert 'data-testid="panel-cancel"' in html
    assert 'data-testid="comment-form"' in html


def test_a_provider_member_sees_the_work_actions(client, provider_member, handoff):
    client.force_login(provider_member)
    response = client.get(handoff.get_absolute_url())
    assert response.context["actions"] == {
        "acknowledge",
        "start",
        "action_plan",
        "cancel",
        "assign",
        "priority",
        "comment",
    }
    html = response.content.decode()
    for testid in ("action-acknowledge", "action-start", "panel-action_plan", "panel-assign"):
        assert f'data-testid="{testid}"' in html
    # The assign select offers the provider team's members only, by name.
    form = response.context["action_forms"]["assign"]
    assert form.fields["assignee"].choices == [
        ("", "— nobody —"),
        (provider_member.pk, provider_member.display_name),
    ]
    assert f'<option value="{provider_member.pk}">{provider_member.display_name}</option>' in html
    # And a posted choice is checked against the same people: anyone else is refused.
    requester = handoff.created_by
    refused = client.post(f"{handoff.get_absolute_url()}assign/", {"assignee": requester.pk})
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()
    assert refused.context["action_forms"]["assign"].data["assignee"] == str(requester.pk)
    handoff.refresh_from_db()
    assert handoff.assignee is None
    assert 'data-testid="action-take"' in html
    # Who filed it, by name (read with the handoff, not joined to it).
    assert f"filed by {handoff.created_by.display_name} " in html


def test_a_resolved_handoff_offers_the_requester_close_and_reopen(
    client, requester, provider_member, handoff
):
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_resolve(
        handoff=handoff, actor=provider_member, resolution="Patched", now=MONDAY_10
    )
    client.force_login(requester)
    response = client.get(handoff.get_absolute_url())
    assert response.context["actions"] == {"close", "reopen", "comment"}
    html = response.content.decode()
    assert ">met<" in html


@pytest.mark.parametrize("comments", [1, 29])
def test_the_detail_page_costs_the_same_queries_for_2_or_30_events(
    client, provider_member, provider_lead, handoff, django_assert_max_num_queries, comments
):
    for index in range(comments):
        services.handoff_comment(
            handoff=handoff,
            actor=provider_lead if index % 2 else provider_member,
            comment=f"Note {index}",
            now=MONDAY_10 + timedelta(minutes=index),
        )
    client.force_login(provider_member)
    # On PostgreSQL 4: the session, the user, the handoff with everything the page shows
    # as columns of its row (selectors.handoff_get) and the bell's count; other databases
    # read the clocks, events, hours, holidays, watchers and assignable people with
    # queries of their own: 11. 2 more the first time this process reads the version's
    # targets and triage template (apps.agreements.cache). Before all of it, 19.
    steady = 4 if connection.vendor == "postgresql" else 11
    with django_assert_max_num_queries(steady + 2):
        response = client.get(handoff.get_absolute_url())
    with django_assert_max_num_queries(steady):
        client.get(handoff.get_absolute_url())
    assert len(response.context["events"]) == comments + 1
    assert f"Note {comments - 1}" in response.content.decode()


def test_outsiders_and_anonymous_visitors_cannot_see_a_handoff(client, outsider, staff, handoff):
    response = client.get(handoff.get_absolute_url())
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    client.force_login(outsider)
    assert client.get(handoff.get_absolute_url()).status_code == 404
    client.force_login(staff)
    assert client.get(handoff.get_absolute_url()).status_code == 200


def test_an_unknown_handoff_is_not_found(client, provider_member):
    client.force_login(provider_member)
    assert client.get("/handoffs/424242/").status_code == 404


def test_every_text_a_person_typed_is_escaped_on_the_page(
    client, handoff, provider_lead, provider_team
):
    evil = "<script>alert(1)</script>"
    Handoff.objects.filter(pk=handoff.pk).update(
        title=f"Title {evil}",
        description=f"First {evil}\nsecond",
        triage={"steps": f"Steps {evil}", "logs": f"http://x.invalid/{evil}", "extra": evil},
    )
    type(provider_team).objects.filter(pk=provider_team.pk).update(name=f"Eng {evil}")
    Agreement.objects.filter(pk=handoff.agreement_id).update(title=f"OLA {evil}")
    User.objects.filter(pk=provider_lead.pk).update(first_name=f"<b>{evil}</b>")
    services.handoff_claim(handoff=Handoff.objects.get(pk=handoff.pk), actor=provider_lead)
    client.force_login(User.objects.get(pk=provider_lead.pk))
    client.post(f"{handoff.get_absolute_url()}watch/")
    html = client.get(handoff.get_absolute_url()).content.decode()
    assert "<script>" not in html
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for shown in (
        f"Title {escaped}",  # title and breadcrumb
        f"<p>First {escaped}<br>second</p>",  # description
        f"Steps {escaped}",  # triage answers
        f'<a href="http://x.invalid/{escaped}" rel="noopener noreferrer">',
        f"Eng {escaped}",  # team, in the teams line and the breadcrumb
        f"OLA {escaped}",  # agreement
        f"&lt;b&gt;{escaped}&lt;/b&gt;",  # assignee and watcher
    ):
        assert shown in html, shown
