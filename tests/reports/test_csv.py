"""Every table of the report as CSV: the same question (query string), the same figures
as the page — raw seconds and counts beside the readable text — only over what the
viewer may see."""

import csv
import io

import pytest
import time_machine
from django.urls import reverse

from apps.agreements.models import Agreement
from tests.factories import AgreementFactory, TeamFactory
from tests.helpers import berlin

from . import finished_handoff, test_reports_page
from .test_reports_page import TODAY

pytestmark = pytest.mark.django_db

# The report page tests' handoffs (see its docstring), shared.
world = test_reports_page.world


def download(client, user, table: str, **params):
    client.force_login(user)
    with time_machine.travel(TODAY, tick=False):
        return client.get(reverse(f"reports:{table}-csv"), params)


def parse(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_compliance_csv_has_the_pages_figures(client, provider_lead, world):
    response = download(client, provider_lead, "compliance", group_by="priority")
    assert (
        'filename="compliance-by-priority-2025-12-26-to-2026-03-25.csv"'
        in (response["Content-Disposition"])
    )
    rows = parse(response)
    assert list(rows[0])[:9] == [
        "priority",
        "priority_label",
        "metric",
        "metric_label",
        "volume",
        "with_target",
        "best_effort",
        "met",
        "breached",
    ]
    assert [(r["priority"], r["metric"], r["volume"], r["met_pct"]) for r in rows] == [
        ("P2", "acknowledge", "2", "50.0"),
        ("P2", "resolve", "1", "100.0"),
        ("P3", "acknowledge", "1", "100.0"),
        ("P3", "resolve", "1", "0.0"),
    ]
    p2 = rows[0]
    # Nearest rank over 600 and 9000 seconds: p50 = 600, p80 = p95 = 9000.
    assert (p2["p50_seconds"], p2["p50"]) == ("600", "10 min")
    # P2 runs 24×7 (tests.factories.standard_targets): its durations are plain hours.
    assert (p2["p95_seconds"], p2["p95"]) == ("9000", "2 h 30 min")
    assert (p2["handoffs"], p2["reopened"], p2["reopen_pct"]) == ("2", "1", "50.0")
    assert (p2["waiting_seconds_avg"], p2["waiting_avg"]) == ("900", "15 min")


def test_compliance_csv_names_teams_and_agreements(client, provider_lead, world):
    by_team = parse(download(client, provider_lead, "compliance"))
    assert {(r["team"], r["team_name"]) for r in by_team} == {("engineering", "Engineering")}
    by_agreement = parse(download(client, provider_lead, "compliance", group_by="agreement"))
    agreement = world["fast"].agreement
    assert {(r["agreement"], r["agreement_title"]) for r in by_agreement} == {
        (str(agreement.series_id), agreement.title)
    }


def test_breach_causes_csv(client, provider_lead, world):
    rows = parse(download(client, provider_lead, "breach-causes", group_by="priority"))
    assert list(rows[0]) == [
        "priority",
        "priority_label",
        "capacity",
        "skills",
        "process",
        "systems",
        "customer",
        "other",
        "unreviewed",
        "total",
    ]
    assert [(r["priority"], r["capacity"], r["unreviewed"], r["total"]) for r in rows] == [
        ("P2", "1", "0", "1"),
        ("P3", "0", "1", "1"),
    ]


def test_trend_csv_has_every_month(client, provider_lead, world):
    rows = parse(download(client, provider_lead, "trend"))
    assert [r["month"] for r in rows] == ["2025-12", "2026-01", "2026-02", "2026-03"]
    march = rows[-1]
    assert (march["acknowledge_volume"], march["acknowledge_met_pct"]) == ("2", "50.0")
    assert rows[0]["acknowledge_met_pct"] == ""


def test_an_outsiders_csv_holds_only_their_own_work(client, outsider, world):
    for table in ("compliance", "breach-causes", "trend"):
        content = download(client, outsider, table).content.decode()
        assert "Engineering" not in content and "engineering" not in content
    rows = parse(download(client, outsider, "compliance"))
    assert [(r["team"], r["volume"]) for r in rows] == [("billing", "1")]
    only_header = download(client, outsider, "compliance", provider_team="engineering")
    assert len(only_header.content.decode().strip().splitlines()) == 1


def test_bad_input_is_a_400_naming_the_field(client, provider_lead, world):
    response = download(client, provider_lead, "compliance", **{"from": "2026-13-01"})
    assert response.status_code == 400
    assert response.content.decode().startswith("from: Enter a valid date.")


def test_a_title_that_looks_like_a_formula_stays_text(client, provider_lead, agreement):
    Agreement.objects.filter(pk=agreement.pk).update(title='=HYPERLINK("http://evil")')
    finished_handoff(
        agreement, priority="P2", created_at=berlin(2026, 3, 2, 10), durations={"acknowledge": 60}
    )
    rows = parse(download(client, provider_lead, "compliance", group_by="agreement"))
    assert rows[0]["agreement_title"] == '\'=HYPERLINK("http://evil")'


def test_csv_queries_do_not_grow_with_the_data(
    client, provider_lead, agreement, django_assert_max_num_queries
):
    client.force_login(provider_lead)
    url = reverse("reports:compliance-csv")
    with time_machine.travel(TODAY, tick=False):
        client.get(url)
        with django_assert_max_num_queries(50) as few:
            client.get(url, {"group_by": "agreement"})
        for n in range(20):
            other = AgreementFactory(
                series__provider_team=agreement.series.provider_team,
                series__requesting_team=TeamFactory(name=f"Team {n}", slug=f"team-{n}"),
            )
            finished_handoff(
                other,
                priority="P3",
                created_at=berlin(2026, 3, 2, 10),
                durations={"acknowledge": 60 * n},
            )
        with django_assert_max_num_queries(len(few.captured_queries)):
            many = client.get(url, {"group_by": "agreement"})
    assert len(parse(many)) == 20
