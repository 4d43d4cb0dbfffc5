"""`GET /api/reports/compliance/?group_by=…&from=…&to=…` (DESIGN.md's contract): the
report's compliance table as JSON, the page's filters and messages, the same
visibility."""

import pytest
import time_machine
from rest_framework.test import APIClient

from apps.agreements.models import Agreement
from tests.factories import AgreementFactory, TeamFactory
from tests.helpers import berlin

from . import finished_handoff, test_reports_page
from .test_reports_page import TODAY

pytestmark = pytest.mark.django_db

# The report page tests' handoffs (see its docstring), shared.
world = test_reports_page.world

URL = "/api/reports/compliance/"


@pytest.fixture
def api():
    return APIClient()


def call(api, user, **params):
    api.force_authenticate(user)
    with time_machine.travel(TODAY, tick=False):
        return api.get(URL, params)


def test_rows_per_team_and_metric_with_names_and_figures(api, provider_lead, world):
    response = call(api, provider_lead, **{"from": "2026-02-01", "to": "2026-03-31"})
    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"], body["group_by"], body["time_zone"]) == (
        "2026-02-01",
        "2026-03-31",
        "team",
        "UTC",
    )
    ack, resolve = body["rows"]
    assert {k: ack[k] for k in ("team", "team_name", "group", "metric")} == {
        "team": "engineering",
        "team_name": "Engineering",
        "group": "Engineering",
        "metric": "acknowledge",
    }
    # 600, 1200 and 9000 seconds: one breach (the P2 target is 2 h).
    assert {k: ack[k] for k in ("volume", "met", "breached", "met_pct")} == {
        "volume": 3,
        "met": 2,
        "breached": 1,
        "met_pct": 66.7,
    }
    assert (ack["p50"], ack["p80"], ack["p95"]) == (1200, 9000, 9000)
    assert (ack["handoffs"], ack["reopened"], ack["reopen_pct"]) == (3, 1, 33.3)
    assert ack["waiting_seconds_avg"] == 600
    assert (resolve["metric"], resolve["volume"], resolve["met_pct"]) == ("resolve", 2, 50.0)


@pytest.mark.parametrize(
    ("group_by", "fields"),
    [
        ("agreement", {"agreement", "agreement_title"}),
        ("priority", {"priority", "priority_label"}),
        ("segment", {"segment", "segment_label"}),
        ("month", {"month", "month_label"}),
    ],
)
def test_each_grouping_names_its_groups(api, provider_lead, world, group_by, fields):
    rows = call(api, provider_lead, group_by=group_by).json()["rows"]
    assert rows
    for row in rows:
        assert fields <= set(row)
        assert not {"team", "team_name"} & set(row)
    if group_by == "agreement":
        agreement = world["fast"].agreement
        assert {(r["agreement"], r["agreement_title"]) for r in rows} == {
            (agreement.series_id, agreement.title)
        }
    if group_by == "month":
        assert [r["month"] for r in rows if r["metric"] == "acknowledge"] == [
            "2026-02",
            "2026-03",
        ]


def test_filters_are_the_pages(api, provider_lead, world):
    rows = call(api, provider_lead, group_by="priority", priority="P3").json()["rows"]
    assert {r["priority"] for r in rows} == {"P3"}
    series = world["fast"].agreement.series_id
    assert call(api, provider_lead, agreement=series).json()["rows"]
    assert call(api, provider_lead, requesting_team="finance").json()["rows"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-99-01"}, "from"),
        ({"to": "soon"}, "to"),
        ({"from": "2026-03-10", "to": "2026-03-01"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"group_by": "colour"}, "group_by"),
        ({"provider_team": "\u00e9quipe"}, "provider_team"),
        ({"agreement": "99999999999999999999999"}, "agreement"),
        ({"priority": "urgent"}, "priority"),
    ],
)
def test_bad_input_is_a_field_keyed_400(api, provider_lead, world, params, field):
    response = call(api, provider_lead, **params)
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    assert isinstance(body[field][0], str) and body[field][0]


def test_an_outsider_gets_only_their_teams_figures(api, outsider, world):
    for group_by in ("team", "agreement", "priority", "segment", "month"):
        rows = call(api, outsider, group_by=group_by).json()["rows"]
        assert sum(r["volume"] for r in rows) == 1
        assert "Engineering" not in str(rows) and "Support" not in str(rows)
    assert call(api, outsider, provider_team="engineering").json()["rows"] == []


def test_staff_see_every_team(api, staff, world):
    rows = call(api, staff).json()["rows"]
    assert [(r["team"], r["metric"]) for r in rows] == [
        ("billing", "acknowledge"),
        ("engineering", "acknowledge"),
        ("engineering", "resolve"),
    ]


def test_dates_are_the_callers_local_dates(api, provider_lead, agreement):
    # 00:30 on 1 April in Berlin is still 31 March in UTC.
    finished_handoff(
        agreement,
        priority="P2",
        created_at=berlin(2026, 4, 1, 0, 30),
        durations={"acknowledge": 60},
    )
    april = {"from": "2026-04-01", "to": "2026-04-30"}
    assert call(api, provider_lead, **april).json()["rows"] == []
    provider_lead.time_zone = "Europe/Berlin"
    provider_lead.save(update_fields=["time_zone"])
    body = call(api, provider_lead, **april).json()
    assert body["time_zone"] == "Europe/Berlin"
    assert [r["volume"] for r in body["rows"]] == [1]


def test_anonymous_callers_are_refused(api):
    assert api.get(URL).status_code == 401


def test_token_callers_are_served(api, provider_lead, world):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=provider_lead)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    with time_machine.travel(TODAY, tick=False):
        assert api.get(URL, {"group_by": "priority"}).status_code == 200


def test_queries_do_not_grow_with_the_data(
    api, provider_lead, agreement, django_assert_max_num_queries
):
    api.force_authenticate(provider_lead)
    with time_machine.travel(TODAY, tick=False):
        with django_assert_max_num_queries(10) as few:
            api.get(URL, {"group_by": "agreement"})
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
            many = api.get(URL, {"group_by": "agreement"})
    assert len(many.json()["rows"]) == 20
    # Agreement titles come from the newest version the caller may see.
    Agreement.objects.filter(series=other.series).update(title="Renamed")
    with time_machine.travel(TODAY, tick=False):
        titles = {
            r["agreement_title"] for r in api.get(URL, {"group_by": "agreement"}).json()["rows"]
        }
    assert "Renamed" in titles


def test_the_schema_documents_the_parameters_and_the_answer(client, provider_member):
    client.force_login(provider_member)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"][URL]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "from",
        "to",
        "group_by",
        "provider_team",
        "requesting_team",
        "agreement",
        "priority",
    }
    group_by = next(p for p in operation["parameters"] if p["name"] == "group_by")
    assert set(group_by["schema"]["enum"]) == {"team", "agreement", "priority", "segment", "month"}
    assert {"200", "400", "401"} <= set(operation["responses"])
    report = schema["components"]["schemas"]["ComplianceReport"]
    assert {"from", "to", "group_by", "rows"} <= set(report["properties"])
