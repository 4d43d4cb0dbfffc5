"""Every figure states its denominator, and the dashboard's 30-day tile and the report
say the same for the same 30 days: met % is of the finished clocks with a target;
best-effort clocks are finished too, counted apart and never in a percentage."""

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from tests.reports import finished_handoff

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 20, 15, 0, tzinfo=NEW_YORK)
TODAY = NOW.date()
FIRST_DAY = TODAY - timedelta(days=29)  # "Last 30 days", today included


@pytest.fixture
def window(agreement, provider_member):
    provider_member.time_zone = "America/New_York"
    provider_member.save()
    at = lambda day, hour, minute=0: datetime(  # noqa: E731
        day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK
    )
    # Inside: the first local day's first half hour and today; P2 acknowledge 2 h target.
    for when in (at(FIRST_DAY, 0, 30), at(TODAY, 9), at(TODAY - timedelta(days=3), 11)):
        finished_handoff(agreement, priority="P2", created_at=when, durations={"acknowledge": 60})
    finished_handoff(
        agreement, priority="P2", created_at=at(TODAY, 10), durations={"acknowledge": 9000}
    )  # breached
    # Best effort: P4's plan and resolution have no target.
    finished_handoff(
        agreement,
        priority="P4",
        created_at=at(TODAY - timedelta(days=5), 9),
        durations={"action_plan": 3600, "resolve": 7200},
    )
    # Outside: the evening before the first day (inside a 30 × 24 h window in UTC terms
    # for someone east of New York, but not the same local dates).
    finished_handoff(
        agreement,
        priority="P2",
        created_at=at(FIRST_DAY - timedelta(days=1), 23, 30),
        durations={"acknowledge": 9000},
    )


def _tile(html: str) -> str:
    return html.split('data-team="engineering"', 1)[1].split("card-footer", 1)[0]


def test_the_tile_and_the_report_agree_for_the_same_30_days(client, provider_member, window):
    client.force_login(provider_member)
    with time_machine.travel(NOW, tick=False):
        dashboard = client.get(reverse("dashboard"))
        report = client.get(
            reverse("reports:index"),
            {"from": FIRST_DAY.isoformat(), "to": TODAY.isoformat(), "group_by": "team"},
        )
        api = client.get(
            "/api/reports/compliance/",
            {"from": FIRST_DAY.isoformat(), "to": TODAY.isoformat(), "group_by": "team"},
        )
    assert dashboard.status_code == report.status_code == api.status_code == 200

    tile = _tile(dashboard.content.decode())
    assert 'data-testid="tile-met">75.0 %' in tile
    assert "3 of 4 met (finished clocks with a target); 2 best effort" in tile
    assert re.search(r'data-testid="tile-breached">1<', tile)

    [group] = report.context["report"]["compliance_groups"]
    total = group["total"]
    assert (total["met"], total["with_target"], total["best_effort"], total["met_pct"]) == (
        3,
        4,
        2,
        75.0,
    )
    html = report.content.decode()
    assert "3 of 4 met" in html and "75.0 %" in html
    rows = {r["metric"]: r for r in api.json()["results"]} if "results" in api.json() else None
    body = api.json()
    listed = body.get("results", body.get("rows", body)) if isinstance(body, dict) else body
    if rows is None and isinstance(listed, list):
        rows = {r["metric"]: r for r in listed}
    if rows:
        assert rows["acknowledge"]["with_target"] == 4 and rows["acknowledge"]["met"] == 3
        assert rows["action_plan"]["best_effort"] == 1 and rows["action_plan"]["met_pct"] is None


def test_a_report_row_shows_its_denominator_and_keeps_best_effort_apart(
    client, provider_member, window
):
    client.force_login(provider_member)
    with time_machine.travel(NOW, tick=False):
        response = client.get(
            reverse("reports:index"),
            {"from": FIRST_DAY.isoformat(), "to": TODAY.isoformat(), "group_by": "priority"},
        )
    groups = {g["key"]: g for g in response.context["report"]["compliance_groups"]}
    p4 = {r["metric"]: r for r in groups["P4"]["rows"]}
    # P4's plan and resolution finished, best effort: in no percentage.
    assert (p4["resolve"]["volume"], p4["resolve"]["with_target"]) == (1, 0)
    assert p4["resolve"]["best_effort"] == 1 and p4["resolve"]["met_pct"] is None
    assert p4["resolve"]["text"]["met"] == "no finished clock with a target"
    p2 = {r["metric"]: r for r in groups["P2"]["rows"]}
    assert p2["acknowledge"]["text"]["met"] == "3 of 4 met"


def test_the_window_is_local_dates_today_included():
    from apps.handoffs.compliance import last_days_bounds

    since, until = last_days_bounds(today=date(2026, 3, 20), days=30, tz="America/New_York")
    assert since == datetime(2026, 2, 19, 0, 0, tzinfo=NEW_YORK)
    assert until == datetime(2026, 3, 21, 0, 0, tzinfo=NEW_YORK)
