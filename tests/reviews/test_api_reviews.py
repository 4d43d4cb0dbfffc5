"""Quarterly reviews through the REST API: who sees and does what (404 / 403), the JSON
shape, the shared FilterSet, a constant query budget, field-keyed 400s, 409s for what the
status does not allow, both leads signing into the next agreement version, and the
what-if replay against a hand count."""

from datetime import date, timedelta

import pytest
import time_machine

from apps.agreements.models import Agreement
from apps.agreements.models import Status as AgreementStatus
from apps.handoffs import services as handoff_services
from apps.reviews import services
from apps.reviews.models import QuarterlyReview, ReviewSignOff, ReviewStatus
from tests.factories import AgreementFactory, TeamFactory
from tests.helpers import MONDAY_10, client_for

from .conftest import DUE, PERIOD_END, PERIOD_START, REVIEW_DAY

pytestmark = pytest.mark.django_db

URL = "/api/reviews/"
HOUR = 3600
# count, page (series, teams, version joined), sign-offs (team and user joined)
LIST_QUERIES = 3


@pytest.fixture(autouse=True)
def _review_day():
    # The API stamps its service calls with the real clock, and so do the agreement
    # services that approve the next version: travel to the review meeting.
    with time_machine.travel(REVIEW_DAY, tick=False):
        yield


def row_of(rows, priority, metric):
    (row,) = [r for r in rows if (r["priority"], r["metric"]) == (priority, metric)]
    return row


# --- who sees what ---------------------------------------------------------------------------


def test_members_of_either_team_and_staff_read_a_review_an_outsider_gets_404(
    review, provider_member, requester, outsider, staff
):
    for user in (provider_member, requester, staff):
        client = client_for(user)
        assert client.get(f"{URL}{review.pk}/").status_code == 200
        assert [r["id"] for r in client.get(URL).json()["results"]] == [review.pk]

    client = client_for(outsider)
    assert client.get(f"{URL}{review.pk}/").status_code == 404
    assert client.get(URL).json()["count"] == 0


def test_an_outsider_cannot_act_on_a_review_it_does_not_exist_for_them(
    review, outsider, provider_lead
):
    client = client_for(outsider)
    assert client.patch(f"{URL}{review.pk}/", {"findings": "x"}, format="json").status_code == 404
    for action in ("start", "sign-off", "what-if"):
        assert client.post(f"{URL}{review.pk}/{action}/", {}, format="json").status_code == 404
    review.refresh_from_db()
    assert (review.status, review.findings) == (ReviewStatus.SCHEDULED, "")


def test_members_who_are_not_leads_may_read_but_not_write(review, provider_member, requester):
    for user in (provider_member, requester):
        client = client_for(user)
        response = client.post(f"{URL}{review.pk}/start/", {}, format="json")
        assert response.status_code == 403, response.json()
        response = client.patch(f"{URL}{review.pk}/", {"findings": "mine"}, format="json")
        assert response.status_code == 403
    review.refresh_from_db()
    assert (review.status, review.findings) == (ReviewStatus.SCHEDULED, "")


@pytest.mark.parametrize("persona", ["provider_member", "requester", "staff"])
def test_who_may_not_write_is_refused_before_the_body_is_read(started_review, persona, request):
    # Asked first, as on the page: a malformed body from someone who may not edit, start
    # or sign is a 403, never a 400 about its fields. Staff read every review but do not
    # act as a team's lead.
    client = client_for(request.getfixturevalue(persona))
    url = f"{URL}{started_review.pk}/"
    response = client.patch(url, {"proposed_targets": "faster", "findings": 1}, format="json")
    assert response.status_code == 403, response.content[:300]
    for action, body in (("start", []), ("sign-off", {"comment": ["x"]})):
        response = client.post(f"{url}{action}/", body, format="json")
        assert response.status_code == 403, (action, response.content[:300])
    started_review.refresh_from_db()
    assert started_review.status == ReviewStatus.IN_PROGRESS
    assert not started_review.sign_offs.exists()


def test_nothing_is_deleted_or_replaced_through_the_api(review, provider_lead):
    client = client_for(provider_lead)
    assert client.delete(f"{URL}{review.pk}/").status_code == 405
    assert client.put(f"{URL}{review.pk}/", {"findings": "x"}, format="json").status_code == 405
    assert client.post(URL, {}, format="json").status_code == 405
    assert QuarterlyReview.objects.filter(pk=review.pk).exists()


# --- shape, filters, queries -----------------------------------------------------------------


def test_a_review_in_full(started_review, provider_lead, requester_lead, file_handoff):
    services.review_sign_off(review=started_review, actor=provider_lead, now=REVIEW_DAY)

    body = client_for(requester_lead).get(f"{URL}{started_review.pk}/").json()

    assert body["status"] == "awaiting_sign_off"
    assert (body["period_start"], body["period_end"], body["due_date"]) == (
        PERIOD_START.isoformat(),
        PERIOD_END.isoformat(),
        DUE.isoformat(),
    )
    assert (body["provider_team_slug"], body["requesting_team_slug"]) == (
        "engineering",
        "support",
    )
    assert set(body["pack"]) >= {"built_at", "period", "previous", "history"}
    assert {(r["priority"], r["metric"]) for r in body["recommendations"]} >= {("P1", "resolve")}
    assert body["proposed_targets"]["P1"] == {
        "acknowledge": 30 * 60,
        "action_plan": 2 * HOUR,
        "resolve": 8 * HOUR,
    }
    [sign_off] = body["sign_offs"]
    assert (sign_off["team_slug"], sign_off["username"]) == ("engineering", "lena")
    assert sign_off["signed_at"].startswith(REVIEW_DAY.date().isoformat())
    assert body["action_items"] == []
    assert body["resulting_agreement"] is None
    # What Rob may still do: edit, and sign for Support.
    assert (body["can_edit"], body["sides_to_sign"]) == (True, ["support"])


def test_the_list_is_paginated_and_leaves_the_pack_to_the_detail(review, requester):
    body = client_for(requester).get(URL).json()
    assert set(body) == {"count", "next", "previous", "results"}
    [row] = body["results"]
    assert row["id"] == review.pk and row["status"] == "scheduled"
    assert "pack" not in row and "sign_offs" in row


def _series_with_reviews(provider_team, requesting_team, n):
    """n reviews of consecutive quarters of one series, each signed by one side."""
    agreement = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team
    )
    reviews = []
    for i in range(n):
        start = date(2020, 1, 1) + timedelta(days=92 * i)
        reviews.append(
            QuarterlyReview.objects.create(
                series=agreement.series,
                agreement=agreement,
                period_start=start,
                period_end=start + timedelta(days=91),
                due_date=start + timedelta(days=91),
                status=ReviewStatus.AWAITING_SIGN_OFF,
            )
        )
    return reviews


@pytest.mark.parametrize("n", [2, 25])
def test_the_list_uses_a_constant_number_of_queries(
    n, provider_team, requesting_team, provider_lead, django_assert_max_num_queries
):
    for review in _series_with_reviews(provider_team, requesting_team, n):
        ReviewSignOff.objects.create(
            review=review, team=provider_team, user=provider_lead, signed_at=REVIEW_DAY
        )
    client = client_for(provider_lead)
    with django_assert_max_num_queries(LIST_QUERIES):
        response = client.get(URL)
    body = response.json()
    assert body["count"] == n
    assert all(r["sign_offs"][0]["username"] == "lena" for r in body["results"])


def test_the_list_filters_by_team_series_status_and_due_date(
    review, agreement, provider_team, other_team, staff
):
    other = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=other_team
    )
    elsewhere = QuarterlyReview.objects.create(
        series=other.series,
        agreement=other,
        period_start=date(2026, 4, 1),
        period_end=date(2026, 7, 1),
        due_date=date(2026, 7, 1),
        status=ReviewStatus.COMPLETED,
    )
    client = client_for(staff)

    def ids(**query):
        response = client.get(URL, query)
        assert response.status_code == 200, response.json()
        return {r["id"] for r in response.json()["results"]}

    assert ids() == {review.pk, elsewhere.pk}
    assert ids(team="support") == {review.pk}
    assert ids(team="finance") == {elsewhere.pk}
    assert ids(team="engineering") == {review.pk, elsewhere.pk}
    assert ids(series=agreement.series_id) == {review.pk}
    assert ids(agreement=other.pk) == {elsewhere.pk}
    assert ids(status="completed") == {elsewhere.pk}
    assert ids(open="true") == {review.pk}
    assert ids(due_before="2026-04-30") == {review.pk}
    assert ids(due_after="2026-04-30") == {elsewhere.pk}
    assert client.get(URL, {"status": "nonsense"}).status_code == 400
    assert client.get(URL, {"team": "no-such-team"}).status_code == 400


# --- writing ---------------------------------------------------------------------------------


def test_a_lead_starts_the_review_and_the_pack_is_frozen(review, requester_lead, file_handoff):
    file_handoff("P3")

    response = client_for(requester_lead).post(f"{URL}{review.pk}/start/", {}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "in_progress"
    assert body["pack"]["period"]["handoffs"] == 1
    assert body["proposed_targets"]["P3"]["resolve"] == 80 * HOUR
    review.refresh_from_db()
    assert (review.started_by, review.started_at) == (requester_lead, REVIEW_DAY)
    # Starting twice is a conflict, not a second pack.
    again = client_for(requester_lead).post(f"{URL}{review.pk}/start/", {}, format="json")
    assert again.status_code == 409


def test_a_lead_writes_findings_decisions_and_proposes_targets(started_review, provider_lead):
    response = client_for(provider_lead).patch(
        f"{URL}{started_review.pk}/",
        {
            "findings": "P2 fixes wait for the release train.",
            "decisions": "Hotfix lane for P2.",
            "proposed_targets": {"P2": {"resolve": 60 * HOUR}},
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["findings"] == "P2 fixes wait for the release train."
    # Only the cells sent change; the others keep the current targets.
    assert body["proposed_targets"]["P2"] == {
        "acknowledge": 2 * HOUR,
        "action_plan": 24 * HOUR,
        "resolve": 60 * HOUR,
    }
    started_review.refresh_from_db()
    assert started_review.decisions == "Hotfix lane for P2."
    assert started_review.proposed_targets["P2"]["resolve"] == 60 * HOUR


@pytest.mark.parametrize(
    "proposed, path",
    [
        ({"P2": {"acknowledge": -5}}, ("P2", "acknowledge")),
        ({"P2": {"acknowledge": 0}}, ("P2", "acknowledge")),
        ({"P2": {"acknowledge": "2h"}}, ("P2", "acknowledge")),
        ({"P2": {"acknowledge": 1.5}}, ("P2", "acknowledge")),
        ({"P2": {"acknowledge": True}}, ("P2", "acknowledge")),
        ({"P2": {"acknowledge": 2**40}}, ("P2", "acknowledge")),
        ({"P2": {"resolve": 60}}, ("P2", "resolve")),  # shorter than the action plan
        ({"P2": {"respond": 60}}, ("P2", "respond")),
        ({"P9": {"resolve": 60}}, ("P9",)),
        ({"P2": "fast"}, ("P2",)),
    ],
)
def test_bad_proposed_targets_are_400_keyed_by_priority_and_metric(
    started_review, provider_lead, proposed, path
):
    response = client_for(provider_lead).patch(
        f"{URL}{started_review.pk}/", {"proposed_targets": proposed}, format="json"
    )

    assert response.status_code == 400, response.json()
    node = response.json()["proposed_targets"]
    for key in path:
        node = node[key]
    assert isinstance(node, list) and node, response.json()
    started_review.refresh_from_db()
    assert started_review.proposed_targets["P2"]["acknowledge"] == 2 * HOUR


@pytest.mark.parametrize(
    "body, field",
    [
        ({"proposed_targets": "faster"}, "proposed_targets"),
        ({"proposed_targets": [1, 2]}, "proposed_targets"),
        ({"findings": 12 * "x" * 2000}, "findings"),
        ({"decisions": None}, "decisions"),
    ],
)
def test_bad_fields_are_400_under_their_name(started_review, provider_lead, body, field):
    response = client_for(provider_lead).patch(f"{URL}{started_review.pk}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_proposing_targets_before_the_review_starts_is_a_conflict(review, provider_lead):
    response = client_for(provider_lead).patch(
        f"{URL}{review.pk}/", {"proposed_targets": {"P2": {"resolve": 60 * HOUR}}}, format="json"
    )
    assert response.status_code == 409
    assert "Start the review" in response.json()["detail"]


def test_signing_a_review_that_has_not_started_is_a_conflict(review, provider_lead):
    response = client_for(provider_lead).post(f"{URL}{review.pk}/sign-off/", {}, format="json")
    assert response.status_code == 409
    assert not ReviewSignOff.objects.exists()


def test_both_leads_sign_through_the_api_and_the_next_version_is_in_force(
    started_review, agreement, provider_lead, requester_lead, file_handoff
):
    lena, rob = client_for(provider_lead), client_for(requester_lead)
    url = f"{URL}{started_review.pk}/"
    assert (
        lena.patch(
            url, {"proposed_targets": {"P2": {"resolve": 60 * HOUR}}}, format="json"
        ).status_code
        == 200
    )

    first = lena.post(f"{url}sign-off/", {"comment": "Agreed for Engineering."}, format="json")
    assert first.status_code == 200, first.json()
    assert first.json()["status"] == "awaiting_sign_off"
    assert first.json()["resulting_agreement"] is None
    # Signing the same side twice is a conflict.
    assert lena.post(f"{url}sign-off/", {}, format="json").status_code == 409

    second = rob.post(f"{url}sign-off/", {"comment": "Agreed for Support."}, format="json")

    assert second.status_code == 200, second.json()
    body = second.json()
    assert body["status"] == "completed"
    assert [(s["team_slug"], s["username"]) for s in body["sign_offs"]] == [
        ("engineering", "lena"),
        ("support", "rob"),
    ]
    new = Agreement.objects.get(pk=body["resulting_agreement"])
    assert (new.series_id, new.version, new.status) == (agreement.series_id, 2, "active")
    assert new.target_for("P2").resolve_seconds == 60 * HOUR
    assert {(a.team.slug, a.user.username) for a in new.approvals.all()} == {
        ("engineering", "lena"),
        ("support", "rob"),
    }
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.SUPERSEDED
    # A handoff filed afterwards carries the new target.
    handoff = file_handoff("P2", at=REVIEW_DAY + timedelta(hours=1))
    assert handoff.agreement_id == new.pk
    assert handoff.clock("resolve").target_seconds == 60 * HOUR

    # A completed review no longer changes.
    edit = rob.patch(url, {"findings": "One more thing."}, format="json")
    assert edit.status_code == 409
    assert rob.post(f"{url}sign-off/", {}, format="json").status_code == 409


# --- what-if ---------------------------------------------------------------------------------

# Five P1 handoffs (24×7) acknowledged after these many minutes.
ACKNOWLEDGED_AFTER = [10, 20, 25, 40, 50]


@pytest.fixture
def acknowledged(file_handoff, provider_member):
    for n, minutes in enumerate(ACKNOWLEDGED_AFTER):
        filed = MONDAY_10 + timedelta(hours=n)
        handoff = file_handoff("P1", at=filed)
        handoff_services.handoff_acknowledge(
            handoff=handoff, actor=provider_member, now=filed + timedelta(minutes=minutes)
        )


def test_what_if_replays_targets_against_the_periods_handoffs(
    started_review, acknowledged, provider_member
):
    before = QuarterlyReview.objects.values().get(pk=started_review.pk)

    response = client_for(provider_member).post(
        f"{URL}{started_review.pk}/what-if/",
        {"targets": {"P1": {"acknowledge": 25 * 60}}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    # By hand: 10, 20 and 25 minutes are within 25 minutes; 40 and 50 are not.
    met = [m for m in ACKNOWLEDGED_AFTER if m <= 25]
    row = row_of(body["rows"], "P1", "acknowledge")
    assert (row["target_seconds"], row["volume"], row["met"]) == (1500, 5, len(met))
    assert row["met_pct"] == 60.0
    # The cells not sent are replayed as the proposal stands.
    assert body["targets"]["P1"]["action_plan"] == 2 * HOUR
    assert (body["period_start"], body["period_end"]) == ("2026-01-01", "2026-04-01")
    # Nothing was saved.
    assert QuarterlyReview.objects.values().get(pk=started_review.pk) == before


def test_what_if_without_targets_replays_the_proposal(started_review, acknowledged, requester):
    response = client_for(requester).post(f"{URL}{started_review.pk}/what-if/", {}, format="json")
    assert response.status_code == 200
    row = row_of(response.json()["rows"], "P1", "acknowledge")
    assert (row["target_seconds"], row["met"], row["met_pct"]) == (1800, 3, 60.0)
    best_effort = row_of(response.json()["rows"], "P4", "resolve")
    assert (best_effort["target_seconds"], best_effort["met_pct"]) == (None, None)


@pytest.mark.parametrize(
    "targets, path",
    [
        ({"P1": {"acknowledge": 0}}, ("P1", "acknowledge")),
        ({"P1": {"acknowledge": "soon"}}, ("P1", "acknowledge")),
        ({"P7": {"acknowledge": 60}}, ("P7",)),
    ],
)
def test_what_if_with_bad_targets_is_400_keyed_under_targets(
    started_review, provider_lead, targets, path
):
    response = client_for(provider_lead).post(
        f"{URL}{started_review.pk}/what-if/", {"targets": targets}, format="json"
    )
    assert response.status_code == 400, response.json()
    node = response.json()["targets"]
    for key in path:
        node = node[key]
    assert node


# --- schema ----------------------------------------------------------------------------------


def test_the_schema_documents_request_and_response_bodies(staff):
    schema = client_for(staff).get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "delete" not in paths["/api/reviews/{id}/"]
    components = schema["components"]["schemas"]

    def body_of(operation, key):
        ref = operation[key]["content"]["application/json"]["schema"]["$ref"]
        return components[ref.rsplit("/", 1)[1]]["properties"]

    sign_off = paths["/api/reviews/{id}/sign-off/"]["post"]
    assert set(body_of(sign_off, "requestBody")) == {"comment"}
    assert {"409", "403", "404"} <= set(sign_off["responses"])
    what_if = paths["/api/reviews/{id}/what-if/"]["post"]
    assert set(body_of(what_if, "requestBody")) == {"targets"}
    assert "rows" in body_of(what_if["responses"], "200")
    patch = paths["/api/reviews/{id}/"]["patch"]
    assert set(body_of(patch, "requestBody")) == {"findings", "decisions", "proposed_targets"}
    review = components["QuarterlyReview"]["properties"]
    assert {"pack", "recommendations", "proposed_targets", "sign_offs"} <= set(review)
    for path in ("/api/breach-reviews/", "/api/action-items/", "/api/breach-reviews/to-review/"):
        assert path in paths


def test_a_review_of_another_pair_of_teams_stays_out_of_sight(review, provider_member):
    finance, sales = TeamFactory(slug="finance-x"), TeamFactory(slug="sales-x")
    other = AgreementFactory(series__provider_team=finance, series__requesting_team=sales)
    hidden = QuarterlyReview.objects.create(
        series=other.series,
        agreement=other,
        period_start=PERIOD_START,
        period_end=PERIOD_END,
        due_date=DUE,
    )
    client = client_for(provider_member)
    assert client.get(f"{URL}{hidden.pk}/").status_code == 404
    assert [r["id"] for r in client.get(URL).json()["results"]] == [review.pk]
