"""End to end in a real Chromium: Engineering's lead opens the dashboard and sees the
team's compliance tile, goes to the reports, switches the grouping from team to
priority (the table changes), and downloads the table as CSV — with no console error,
script error or Content-Security-Policy violation on the way."""

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.teams.models import Role
from tests.browser.helpers import sign_in
from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory
from tests.reports import finished_handoff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolation({
    page: document.location.pathname,
    directive: e.violatedDirective,
    blocked: e.blockedURI,
    source: e.sourceFile + ":" + e.lineNumber,
  });
});
"""


@pytest.fixture
def engineering_work():
    """Support → Engineering with finished work of the last days: two P2s (acknowledged
    in 10 min — met — and in 3 h — breached) and a P3 acknowledged in 20 min."""
    engineering = TeamFactory(name="Engineering", slug="engineering")
    support = TeamFactory(name="Support", slug="support")
    lena = UserFactory(username="lena", first_name="Lena", last_name="Lead")
    MembershipFactory(team=engineering, user=lena, role=Role.LEAD)
    MembershipFactory(team=support, user=UserFactory(username="rita"))
    agreement = AgreementFactory(
        series__provider_team=engineering,
        series__requesting_team=support,
        title="Support → Engineering escalations",
    )
    days_ago = timezone.now() - timedelta(days=3)
    for priority, seconds in (("P2", 600), ("P2", 3 * 3600), ("P3", 1200)):
        finished_handoff(
            agreement,
            priority=priority,
            created_at=days_ago,
            durations={"acknowledge": seconds, "resolve": seconds * 2},
        )
    return {"lena": lena}


@pytest.fixture
def watched(page):
    seen = {"violations": [], "errors": [], "console": []}
    page.expose_function("__cspViolation", lambda violation: seen["violations"].append(violation))
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda msg: (
            seen["console"].append(f"{msg.text} ({page.url})") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: seen["errors"].append(f"{error} ({page.url})"))
    return page, seen


def test_lead_reads_the_dashboard_then_a_report_and_downloads_it(
    live_server, watched, engineering_work, password
):
    page, seen = watched
    base = live_server.url

    # --- the dashboard: Engineering's 30-day tile ------------------------------------
    sign_in(page, f"{base}/", "lena", password)
    tile = page.locator('[data-testid="tile"][data-team="engineering"]')
    expect(tile).to_be_visible()
    # Six finished clocks with a target: one breached (the 3 h acknowledge of a P2).
    expect(tile.get_by_test_id("tile-met")).to_have_text("83.3 %")
    expect(tile.get_by_test_id("tile-breached")).to_have_text("1")

    # --- to the reports, by team -------------------------------------------------------
    page.get_by_role("link", name="Reports").click()
    expect(page).to_have_url(f"{base}/reports/")
    expect(page.get_by_role("heading", name="Compliance report")).to_be_visible()
    table = page.get_by_test_id("compliance-table")
    expect(table).to_have_attribute("data-group-by", "team")
    expect(table.get_by_test_id("compliance-group")).to_have_count(1)
    expect(table.get_by_test_id("compliance-group")).to_have_attribute("data-group", "Engineering")
    # Chart.js drew the charts from the page's JSON (a drawn canvas has a size and a
    # Chart instance attached).
    drawn = page.evaluate(
        "() => Array.from(document.querySelectorAll('canvas[data-chart]'))"
        ".map(c => Boolean(window.Chart.getChart(c)))"
    )
    assert drawn == [True, True, True]

    # --- switch the grouping to priority: the table changes ----------------------------
    page.get_by_test_id("group-priority").click()
    expect(page).to_have_url(re.compile(r"/reports/\?.*group_by=priority"))
    table = page.get_by_test_id("compliance-table")
    expect(table).to_have_attribute("data-group-by", "priority")
    groups = table.get_by_test_id("compliance-group")
    expect(groups).to_have_count(2)
    expect(groups.nth(0)).to_have_attribute("data-group", "P2 high")
    expect(groups.nth(1)).to_have_attribute("data-group", "P3 normal")
    p2_acknowledge = groups.nth(0).locator('[data-metric="acknowledge"]')
    expect(p2_acknowledge.get_by_test_id("met-pct")).to_have_text("50.0 %")

    # --- download the table as CSV -----------------------------------------------------
    with page.expect_download() as download_info:
        page.get_by_test_id("export-compliance").click()
    download = download_info.value
    assert download.suggested_filename.startswith("compliance-by-priority-")
    assert download.suggested_filename.endswith(".csv")
    content = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert content.splitlines()[0].startswith(
        "priority,priority_label,metric,metric_label,volume,with_target,best_effort,met,breached,"
        "met_pct,p50_seconds,p50,"
    )
    assert [(r["priority"], r["metric"], r["volume"], r["met_pct"]) for r in rows] == [
        ("P2", "acknowledge", "2", "50.0"),
        ("P2", "resolve", "2", "100.0"),
        ("P3", "acknowledge", "1", "100.0"),
        ("P3", "resolve", "1", "100.0"),
    ]
    p2 = rows[0]
    assert (p2["p50_seconds"], p2["p50"], p2["p95_seconds"], p2["p95"]) == (
        "600",
        "10 min",
        "10800",
        "3 h",  # P2 runs 24×7: plain hours, not business hours
    )

    assert seen["violations"] == []
    assert seen["errors"] == []
    assert seen["console"] == []
