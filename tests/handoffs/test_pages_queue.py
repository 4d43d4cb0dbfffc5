"""The queue pages: a team's inbound work soonest due first, time left in business time,
tabs and filters from the one FilterSet, pagination, the outgoing view and /queues/."""

from datetime import timedelta

import pytest
from django.urls import reverse

from apps.handoffs import services
from apps.handoffs.models import Handoff
from tests.helpers import MONDAY_10, TRIAGE, berlin

pytestmark = pytest.mark.django_db

QUEUE = "/queues/engineering/"


def rows(response) -> list[int]:
    return [row["handoff"].pk for row in response.context["rows"]]


def row_of(response, handoff) -> dict:
    return next(row for row in response.context["rows"] if row["handoff"].pk == handoff.pk)


def test_the_queue_lists_inbound_work_soonest_due_first(
    client, provider_member, file_handoff, time_machine
):
    p3, p1, p4, p2 = (file_handoff(p) for p in ("P3", "P1", "P4", "P2"))
    time_machine.move_to(MONDAY_10 + timedelta(minutes=10), tick=False)
    client.force_login(provider_member)
    response = client.get(QUEUE)
    assert response.status_code == 200
    # Acknowledge due: P1 10:30, P2 12:00 (24×7), P3 Tue 10:00, P4 Thu 10:00 (business).
    assert rows(response) == [p1.pk, p2.pk, p3.pk, p4.pk]
    html = response.content.decode()
    for handoff in (p1, p2, p3, p4):
        assert f'id="handoff-{handoff.pk}"' in html
        assert handoff.get_absolute_url() in html
    assert "Support" in html


def test_time_left_reads_in_business_time_with_red_amber_green(
    client, provider_member, file_handoff, time_machine
):
    fresh = file_handoff("P3")  # 8 business h to acknowledge
    late = file_handoff("P1", at=berlin(2026, 3, 2, 15, 0))  # 30 min, 24×7
    risky = file_handoff("P3", at=berlin(2026, 3, 2, 9, 0))
    paused = file_handoff("P3")
    services.handoff_acknowledge(handoff=paused, actor=provider_member, now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=paused, actor=provider_member, question="Which browser?", now=MONDAY_10
    )
    time_machine.move_to(berlin(2026, 3, 2, 15, 10), tick=False)
    client.force_login(provider_member)
    response = client.get(QUEUE)
    html = response.content.decode()

    reading = row_of(response, fresh)["reading"]
    assert (reading.remaining, reading.rag) == (2 * 3600 + 50 * 60, "green")
    assert "2 business h 50 min left" in html
    # 6 h 10 of 8 business h used: past the 75 % warning.
    assert row_of(response, risky)["reading"].rag == "amber"
    assert "1 business h 50 min left" in html
    # 24×7 target, 10 min used of 30: plain hours, not business hours.
    assert "20 min left" in html
    assert row_of(response, paused)["reading"].clock.status == "paused"
    assert "paused · 40 business h left when it resumes" in html

    time_machine.move_to(berlin(2026, 3, 2, 16, 10), tick=False)
    response = client.get(QUEUE)
    assert row_of(response, late)["reading"].rag == "red"
    assert "overdue by 40 min" in response.content.decode()
    assert f'data-handoff="{late.pk}" data-rag="red"' in response.content.decode()


@pytest.fixture
def board(agreement, provider_member, provider_lead, requester):
    """One handoff per tab, filed on Monday; the page is read at 10:25 Berlin."""

    def file(title, priority="P3", at=MONDAY_10):
        return services.handoff_create(
            actor=requester,
            agreement=agreement,
            title=title,
            priority=priority,
            triage=TRIAGE,
            now=at,
        )

    made = {
        "new": file("Fresh one"),
        "mine": file("Max has it"),
        "lenas": file("Lena has it"),
        "waiting": file("Needs logs"),
        "done": file("Fixed already"),
        # P1 acknowledge target 30 min, warning at 75 %: at 10:25 one is at risk, the other
        # (filed at 09:00) long breached.
        "risky": file("Risky", "P1"),
        "late": file("Late", "P1", at=berlin(2026, 3, 2, 9, 0)),
    }
    services.handoff_acknowledge(handoff=made["mine"], actor=provider_member, now=MONDAY_10)
    services.handoff_claim(handoff=made["lenas"], actor=provider_lead, now=MONDAY_10)
    services.handoff_acknowledge(handoff=made["waiting"], actor=provider_lead, now=MONDAY_10)
    services.handoff_wait_on_requester(
        handoff=made["waiting"], actor=provider_lead, question="Logs?", now=MONDAY_10
    )
    services.handoff_acknowledge(handoff=made["done"], actor=provider_lead, now=MONDAY_10)
    services.handoff_resolve(
        handoff=made["done"], actor=provider_lead, resolution="Patched", now=MONDAY_10
    )
    return {key: handoff.pk for key, handoff in made.items()}


@pytest.mark.parametrize(
    ("tab", "expected"),
    [
        ("open", {"new", "mine", "lenas", "waiting", "risky", "late"}),
        ("mine", {"mine"}),
        ("unassigned", {"new", "risky", "late"}),
        ("waiting", {"waiting"}),
        ("at_risk", {"risky"}),
        ("breached", {"late"}),
        ("all", {"new", "mine", "lenas", "waiting", "done", "risky", "late"}),
        ("nonsense", {"new", "mine", "lenas", "waiting", "risky", "late"}),
    ],
)
def test_each_tab_is_a_preset_of_the_filters(
    client, provider_member, board, time_machine, tab, expected
):
    time_machine.move_to(berlin(2026, 3, 2, 10, 25), tick=False)
    client.force_login(provider_member)
    response = client.get(QUEUE, {"tab": tab})
    assert response.status_code == 200
    assert set(rows(response)) == {board[key] for key in expected}
    assert response.context["tab"] == (tab if tab != "nonsense" else "open")


def test_the_filter_form_narrows_within_a_tab_and_tabs_keep_the_filters(
    client, provider_member, board, time_machine, other_team
):
    time_machine.move_to(berlin(2026, 3, 2, 10, 25), tick=False)
    client.force_login(provider_member)
    response = client.get(QUEUE, {"tab": "open", "priority": "P1"})
    assert set(rows(response)) == {board["risky"], board["late"]}
    response = client.get(QUEUE, {"tab": "unassigned", "q": "fresh"})
    assert rows(response) == [board["new"]]
    response = client.get(QUEUE, {"tab": "open", "q": f"#{board['waiting']}"})
    assert rows(response) == [board["waiting"]]
    response = client.get(QUEUE, {"tab": "all", "requesting_team": "support"})
    assert len(rows(response)) == 7
    response = client.get(QUEUE, {"tab": "all", "requesting_team": "finance"})
    assert rows(response) == []
    assert 'data-testid="queue-empty"' in response.content.decode()
    # Switching tab keeps the filter; the filter form keeps the tab.
    html = client.get(QUEUE, {"tab": "open", "priority": "P1"}).content.decode()
    assert 'href="?tab=breached&amp;priority=P1"' in html
    assert '<input type="hidden" name="tab" value="open">' in html


def test_the_queue_is_paginated_by_fifty(client, provider_member, file_handoff, time_machine):
    for minute in range(52):
        file_handoff("P3", at=MONDAY_10 + timedelta(minutes=minute))
    time_machine.move_to(MONDAY_10 + timedelta(hours=1), tick=False)
    client.force_login(provider_member)
    first = client.get(QUEUE)
    assert len(rows(first)) == 50
    assert first.context["page_obj"].paginator.count == 52
    assert "?page=2" in first.content.decode()
    second = client.get(QUEUE, {"page": 2})
    assert len(rows(second)) == 2
    assert set(rows(first)).isdisjoint(rows(second))


@pytest.mark.parametrize("count", [3, 40])
def test_the_queue_costs_the_same_queries_for_3_or_40_rows(
    client, provider_member, file_handoff, time_machine, django_assert_max_num_queries, count
):
    for index in range(count):
        handoff = file_handoff(("P1", "P2", "P3", "P4")[index % 4])
        if index % 3 == 0:
            services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
        if index % 6 == 0:
            services.handoff_wait_on_requester(
                handoff=handoff, actor=provider_member, question="?", now=MONDAY_10
            )
    time_machine.move_to(MONDAY_10 + timedelta(hours=1), tick=False)
    client.force_login(provider_member)
    # Session, user, the team with every team's name for the filter, the rows with their
    # current clocks and their count capped at 1,000, the calendar's hours and holidays (one
    # UNION) + 1 COUNT for the unread badge on the navigation bell (no exception windows:
    # the team has none). 12 before the rows were read as columns, 10 before their clocks
    # rode on the rows query.
    with django_assert_max_num_queries(6):
        response = client.get(QUEUE)
    assert len(rows(response)) == count
    # Rows were read (time left and RAG) from what the page prefetched; an acknowledged P4
    # has only best-effort clocks left, nothing to read.
    readings = [row["reading"] for row in response.context["rows"]]
    assert sum(reading is not None for reading in readings) >= count * 3 // 4


def test_outgoing_shows_what_the_team_handed_over_without_queue_buttons(
    client, requester, provider_member, file_handoff, time_machine
):
    first = file_handoff("P2")
    second = file_handoff("P1")
    services.handoff_acknowledge(handoff=second, actor=provider_member, now=MONDAY_10)
    time_machine.move_to(MONDAY_10 + timedelta(minutes=5), tick=False)
    client.force_login(requester)
    response = client.get("/queues/support/outgoing/")
    assert response.status_code == 200
    # P1: acknowledge met, action plan due 12:00; P2: acknowledge due 12:00 too, filed first.
    assert set(rows(response)) == {first.pk, second.pk}
    html = response.content.decode()
    assert "Engineering" in html
    assert 'data-testid="acknowledge"' not in html
    assert 'data-testid="claim"' not in html
    # Support's own inbound queue is empty: nobody hands work to Support.
    assert rows(client.get("/queues/support/")) == []


def test_the_inbound_queue_offers_acknowledge_and_claim(
    client, provider_member, file_handoff, time_machine
):
    handoff = file_handoff("P3")
    time_machine.move_to(MONDAY_10, tick=False)
    client.force_login(provider_member)
    html = client.get(QUEUE).content.decode()
    acknowledge = reverse("handoffs:acknowledge", args=[handoff.pk])
    assert f'hx-post="{acknowledge}" hx-target="closest tr" hx-swap="outerHTML"' in html
    assert f'action="{reverse("handoffs:claim", args=[handoff.pk])}"' in html


def test_queues_index_lists_my_teams_with_links_and_counts(
    client, provider_member, requester, file_handoff, provider_team
):
    file_handoff("P3")
    services.handoff_claim(handoff=file_handoff("P2"), actor=provider_member, now=MONDAY_10)
    client.force_login(provider_member)
    response = client.get(reverse("queues:index"))
    assert response.status_code == 200
    (team,) = response.context["teams"]
    assert (team.slug, team.inbound_open, team.inbound_unassigned, team.outgoing_open) == (
        "engineering",
        2,
        1,
        0,
    )
    html = response.content.decode()
    assert 'href="/queues/engineering/"' in html
    assert 'href="/queues/engineering/outgoing/"' in html
    assert "/queues/support/" not in html

    client.force_login(requester)
    (team,) = client.get(reverse("queues:index")).context["teams"]
    assert (team.slug, team.outgoing_open) == ("support", 2)


def test_the_navigation_points_at_the_queues(client, provider_member):
    client.force_login(provider_member)
    html = client.get("/").content.decode()
    assert 'href="/queues/"' in html


@pytest.mark.parametrize("url", [QUEUE, "/queues/engineering/outgoing/"])
def test_a_team_the_user_is_not_in_has_no_queue_for_them(
    client, requester, outsider, staff, file_handoff, url
):
    file_handoff("P3")
    for persona in (requester, outsider):
        client.force_login(persona)
        assert client.get(url).status_code == 404
    client.force_login(staff)
    assert client.get(url).status_code == 200
    assert client.get(url.replace("engineering", "nowhere")).status_code == 404


def test_staff_see_every_team_on_the_index(client, staff, provider_team, requesting_team):
    client.force_login(staff)
    response = client.get(reverse("queues:index"))
    assert [t.slug for t in response.context["other_teams"]] == ["engineering", "support"]


@pytest.mark.parametrize("url", ["/queues/", QUEUE, "/queues/engineering/outgoing/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, provider_team, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={url}"


def test_an_unknown_team_is_not_found(client, provider_member):
    client.force_login(provider_member)
    assert client.get("/queues/nobody/").status_code == 404
    assert Handoff.objects.count() == 0


@pytest.mark.parametrize(
    "params",
    [
        {"page": "abc"},
        {"page": "999"},
        {"due_before": "soon"},
        {"priority": "P9"},
        {"status": "lost"},
        {"open": "maybe"},
        {"requesting_team": "nobody"},
        {"q": "#99999999999999999999999"},
    ],
)
def test_odd_filters_never_break_the_queue(client, provider_member, file_handoff, params):
    handoff = file_handoff("P3")
    client.force_login(provider_member)
    response = client.get(QUEUE, params)
    assert response.status_code == 200
    assert rows(response) in ([handoff.pk], [])


@pytest.mark.parametrize("params", [{"assignee": "9" * 25}, {"agreement": "9" * 25}])
def test_huge_ids_in_the_filters_never_break_the_queue(client, provider_member, params):
    client.force_login(provider_member)
    response = client.get(QUEUE, params)
    assert response.status_code == 200
    assert rows(response) == []
