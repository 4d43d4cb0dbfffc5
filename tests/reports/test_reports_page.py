"""`/reports/`: compliance over a period, grouped and filtered, with breach causes and a
monthly trend — only over the handoffs the viewer may see, in a fixed number of queries,
with bad input answered by the form, never an error page (issue 7, item 2)."""

import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.urls import reverse

from apps.handoffs.models import Clock
from apps.reviews.models import BreachReview
from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory
from tests.helpers import berlin

from . import finished_handoff

pytestmark = pytest.mark.django_db

# Wednesday 25 March 2026: the default period (last 90 days) is 26 Dec 2025 – 25 Mar 2026.
TODAY = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def world(agreement, requesting_team, other_team, provider_lead, outsider):
    """Support → Engineering (the `agreement` fixture: P2 acknowledge 2 h 24×7, P3
    acknowledge 8 business h) and Finance → Billing, with finished clocks:

    - `fast` P2, 2 March: acknowledged in 10 min (met), resolved in 1 h;
    - `slow` P2, 3 March: acknowledged in 2.5 h (breached: capacity), reopened once, 30 min
      in the requester's court;
    - `ent` P3 enterprise, 4 February: acknowledged in 20 min (met), resolved in 100
      business h (breached, nobody reviewed it yet);
    - `old` P3, 1 November 2025: outside the default period;
    - `ledger` Finance → Billing P3, 2 March: acknowledged in 5 min.
    """
    billing = TeamFactory(name="Billing", slug="billing")
    finance_agreement = AgreementFactory(
        series__provider_team=billing, series__requesting_team=other_team, title="Ledger help"
    )
    fast = finished_handoff(
        agreement,
        priority="P2",
        created_at=berlin(2026, 3, 2, 10, 0),
        durations={"acknowledge": 600, "resolve": 3600},
    )
    slow = finished_handoff(
        agreement,
        priority="P2",
        created_at=berlin(2026, 3, 3, 10, 0),
        durations={"acknowledge": 9000},
        reopen_count=1,
        waiting_seconds=1800,
    )
    ent = finished_handoff(
        agreement,
        priority="P3",
        created_at=berlin(2026, 2, 4, 10, 0),
        durations={"acknowledge": 1200, "resolve": 100 * 3600},
        segment="enterprise",
    )
    old = finished_handoff(
        agreement,
        priority="P3",
        created_at=berlin(2025, 11, 1, 10, 0),
        durations={"acknowledge": 60},
    )
    ledger = finished_handoff(
        finance_agreement,
        priority="P3",
        created_at=berlin(2026, 3, 2, 10, 0),
        durations={"acknowledge": 300},
    )
    BreachReview.objects.create(
        clock=Clock.objects.get(handoff=slow, metric="acknowledge"),
        root_cause="capacity",
        what_happened="Two people out sick",
        reviewed_by=provider_lead,
    )
    return {
        "fast": fast,
        "slow": slow,
        "ent": ent,
        "old": old,
        "ledger": ledger,
        "billing": billing,
        "finance_agreement": finance_agreement,
    }


def get(client, user, **params):
    client.force_login(user)
    with time_machine.travel(TODAY, tick=False):
        return client.get(reverse("reports:index"), params)


def table(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]


def rows_of(response) -> list[tuple]:
    """(group, metric, volume, met %) of the compliance table, as the page computed it."""
    return [
        (row["group"], row["metric"], row["volume"], row["met_pct"])
        for row in response.context["report"]["compliance"]
    ]


def test_default_is_the_last_90_days_by_provider_team(client, provider_lead, world):
    response = get(client, provider_lead)
    assert response.status_code == 200
    assert response.context["query"].since == date(2025, 12, 26)
    assert response.context["query"].until == date(2026, 3, 25)
    # Engineering's three handoffs of the period; `old` is before it, Billing is not Lena's.
    assert rows_of(response) == [
        ("Engineering", "acknowledge", 3, 66.7),
        ("Engineering", "resolve", 2, 50.0),
    ]
    html = response.content.decode()
    compliance = table(html, "compliance-table")
    assert "Engineering" in compliance and "Billing" not in compliance
    # Readable percentiles: acknowledged in 10 min, 20 min and 2 h 30 min.
    assert "20 min" in compliance and "2 business h 30 min" in compliance
    assert 'data-testid="preset-last_90"' in html
    assert re.search(
        r'class="btn btn-outline-secondary active"[^>]*data-testid="preset-last_90"', html
    )


def test_switching_the_grouping_regroups_the_table(client, provider_lead, world):
    response = get(client, provider_lead, group_by="priority")
    assert rows_of(response) == [
        ("P2 high", "acknowledge", 2, 50.0),
        ("P2 high", "resolve", 1, 100.0),
        ("P3 normal", "acknowledge", 1, 100.0),
        ("P3 normal", "resolve", 1, 0.0),
    ]
    by_segment = get(client, provider_lead, group_by="segment")
    assert [r[0] for r in rows_of(by_segment)] == [
        "Enterprise",
        "Enterprise",
        "Business",
        "Business",
    ]
    by_month = get(client, provider_lead, group_by="month")
    assert [r[:3] for r in rows_of(by_month)] == [
        ("February 2026", "acknowledge", 1),
        ("February 2026", "resolve", 1),
        ("March 2026", "acknowledge", 2),
        ("March 2026", "resolve", 1),
    ]
    by_agreement = get(client, provider_lead, group_by="agreement")
    assert {r[0] for r in rows_of(by_agreement)} == {world["fast"].agreement.title}


def test_the_reopen_rate_and_the_requesters_court_are_per_handoff(client, provider_lead, world):
    response = get(client, provider_lead, group_by="priority", priority="P2")
    ack = response.context["report"]["compliance"][0]
    assert (ack["group"], ack["metric"], ack["handoffs"], ack["reopened"]) == (
        "P2 high",
        "acknowledge",
        2,
        1,
    )
    assert (ack["reopen_pct"], ack["waiting_seconds_avg"]) == (50.0, 900)
    assert "15 min" in table(response.content.decode(), "compliance-table")


def test_a_chosen_period_and_filters_narrow_the_figures(client, provider_lead, world):
    march = get(client, provider_lead, **{"from": "2026-03-01", "to": "2026-03-31"})
    assert rows_of(march) == [
        ("Engineering", "acknowledge", 2, 50.0),
        ("Engineering", "resolve", 1, 100.0),
    ]
    autumn = get(client, provider_lead, **{"from": "2025-10-01", "to": "2025-12-31"})
    assert rows_of(autumn) == [("Engineering", "acknowledge", 1, 100.0)]
    p3 = get(client, provider_lead, priority="P3")
    assert [r[:3] for r in rows_of(p3)] == [
        ("Engineering", "acknowledge", 1),
        ("Engineering", "resolve", 1),
    ]
    elsewhere = get(client, provider_lead, provider_team="billing")
    assert rows_of(elsewhere) == []
    assert 'data-testid="compliance-empty"' in elsewhere.content.decode()


def test_breach_causes_count_reviews_and_the_unreviewed(client, provider_lead, world):
    response = get(client, provider_lead, group_by="priority")
    causes = response.context["report"]["causes"]
    assert [(r["group"], r["counts"]["capacity"], r["counts"]["unreviewed"]) for r in causes] == [
        ("P2 high", 1, 0),
        ("P3 normal", 0, 1),
    ]
    html = table(response.content.decode(), "causes-table")
    assert "Not reviewed yet" in html and "Capacity" in html


def test_the_trend_has_every_month_of_the_period(client, provider_lead, world):
    response = get(client, provider_lead)
    trend = response.context["report"]["trend"]
    assert [row["month"] for row in trend] == ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert [row["metrics"]["acknowledge"]["met_pct"] for row in trend] == [None, None, 100.0, 50.0]
    assert 'data-month="2026-03"' in table(response.content.decode(), "trend-table")


def test_an_outsider_sees_nothing_of_engineering_or_support(client, outsider, world):
    response = get(client, outsider, group_by="team")
    # Otto (Finance) sees Finance's own handoff to Billing and nothing else.
    assert rows_of(response) == [("Billing", "acknowledge", 1, 100.0)]
    html = response.content.decode()
    assert "Engineering" not in table(html, "compliance-table")
    for group_by in ("priority", "segment", "month", "agreement"):
        response = get(client, outsider, group_by=group_by)
        assert sum(r[2] for r in rows_of(response)) == 1
        assert response.context["report"]["causes"] == []
    # Filtering on Engineering does not open a door either.
    assert rows_of(get(client, outsider, provider_team="engineering")) == []


def test_a_member_of_no_team_sees_no_figures(client, world):
    nobody = UserFactory(username="newcomer")
    response = get(client, nobody)
    assert response.status_code == 200
    assert rows_of(response) == []
    assert response.context["report"]["causes"] == []


def test_staff_see_every_team(client, staff, world):
    response = get(client, staff)
    assert [r[:2] for r in rows_of(response)] == [
        ("Billing", "acknowledge"),
        ("Engineering", "acknowledge"),
        ("Engineering", "resolve"),
    ]


def test_the_requesting_side_sees_its_outgoing_work(client, requester, world):
    response = get(client, requester, requesting_team="support")
    assert rows_of(response) == [
        ("Engineering", "acknowledge", 3, 66.7),
        ("Engineering", "resolve", 2, 50.0),
    ]


def test_months_are_read_in_the_viewers_zone(client, agreement, provider_team):
    # 00:30 on 1 April in Berlin is 22:30 on 31 March in UTC.
    finished_handoff(
        agreement,
        priority="P2",
        created_at=berlin(2026, 4, 1, 0, 30),
        durations={"acknowledge": 600},
    )
    in_berlin = MembershipFactory(
        team=provider_team, user=UserFactory(username="berta", time_zone="Europe/Berlin")
    ).user
    in_utc = MembershipFactory(team=provider_team, user=UserFactory(username="ursula")).user
    params = {"from": "2026-03-01", "to": "2026-04-30", "group_by": "month"}
    with time_machine.travel(datetime(2026, 4, 20, tzinfo=UTC), tick=False):
        client.force_login(in_berlin)
        berlin_rows = client.get(reverse("reports:index"), params).context["report"]
        client.force_login(in_utc)
        utc_rows = client.get(reverse("reports:index"), params).context["report"]
    assert [r["group"] for r in berlin_rows["compliance"]] == ["April 2026"]
    assert [r["group"] for r in utc_rows["compliance"]] == ["March 2026"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "yesterday"}, "from", "Enter a valid date."),
        ({"to": "2026-02-30"}, "to", "Enter a valid date."),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "to", "comes before its start"),
        ({"from": "1999-12-31", "to": "2000-01-10"}, "from", "Give a date between"),
        ({"from": "2000-01-01", "to": "2026-03-01"}, "to", "at most"),
        ({"group_by": "colour"}, "group_by", "Select a valid choice"),
        ({"provider_team": "nope"}, "provider_team", "Select a valid choice"),
        ({"agreement": "x"}, "agreement", "Select a valid choice"),
        ({"priority": "P9"}, "priority", "Select a valid choice"),
    ],
)
def test_bad_input_comes_back_to_the_form_with_a_message(
    client, provider_lead, world, params, field, message
):
    response = get(client, provider_lead, **params)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    html = response.content.decode()
    assert message.split("“")[0] in html
    assert 'data-testid="report-form"' in html and "compliance-table" not in html


def test_constant_queries_whatever_the_amount_of_work(
    client, provider_lead, agreement, django_assert_max_num_queries
):
    finished_handoff(
        agreement, priority="P2", created_at=berlin(2026, 3, 2, 10), durations={"acknowledge": 60}
    )
    client.force_login(provider_lead)
    with time_machine.travel(TODAY, tick=False):
        client.get(reverse("reports:index"))  # warm the session
        with django_assert_max_num_queries(50) as few:
            client.get(reverse("reports:index"), {"group_by": "agreement"})
        for n in range(30):
            other = AgreementFactory(
                series__provider_team=agreement.series.provider_team,
                series__requesting_team=TeamFactory(name=f"Team {n}", slug=f"team-{n}"),
            )
            finished_handoff(
                other,
                priority=("P1", "P2", "P3", "P4")[n % 4],
                created_at=berlin(2026, 1 + n % 3, 2, 10),
                durations={"acknowledge": 60 * n, "action_plan": 600, "resolve": 3600 * n},
                segment=("enterprise", "business", "self_serve")[n % 3],
            )
        with django_assert_max_num_queries(len(few.captured_queries)):
            many = client.get(reverse("reports:index"), {"group_by": "agreement"})
    assert len(many.context["report"]["compliance"]) > 30


def test_the_page_keeps_to_the_content_security_policy(client, provider_lead, world):
    html = get(client, provider_lead).content.decode()
    # Scripts come from files; the figures travel as JSON data, not as code.
    assert re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html) == []
    assert " style=" not in html and " onclick=" not in html
    assert 'id="report-charts" type="application/json"' in html
    assert "js/reports.js" in html


def test_the_navigation_leads_to_the_reports(client, provider_lead):
    client.force_login(provider_lead)
    html = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("reports:index")}"' in html
    assert reverse("reports:index") == "/reports/"


def test_the_csv_links_carry_the_question(client, provider_lead, world):
    html = get(client, provider_lead, group_by="priority", priority="P2").content.decode()
    link = re.search(r'href="([^"]+)"[^>]*data-testid="export-compliance"', html)[1]
    assert link.startswith("/reports/compliance.csv?")
    assert "group_by=priority" in link and "priority=P2" in link and "from=2025-12-26" in link


def test_two_agreements_sharing_a_title_stay_two_groups(client, provider_lead, agreement, world):
    twin = AgreementFactory(
        series__provider_team=agreement.series.provider_team,
        series__requesting_team=TeamFactory(name="Sales", slug="sales"),
        title=agreement.title,
    )
    finished_handoff(
        twin, priority="P2", created_at=berlin(2026, 3, 5, 10), durations={"acknowledge": 60}
    )
    response = get(client, provider_lead, group_by="agreement")
    groups = response.context["report"]["compliance_groups"]
    assert [g["label"] for g in groups] == [agreement.title, agreement.title]
    assert sorted(g["key"] for g in groups) == sorted([agreement.series_id, twin.series_id])
    assert len(response.context["report"]["charts"]["compliance"]["labels"]) == 2
