"""Bad input to the agreements API is a 400 with messages on the field concerned (nested
parts keyed by index), never a 500 and never a half-written draft."""

import pytest
from rest_framework.test import APIClient

from apps.agreements.models import Agreement
from tests.factories import standard_steps, standard_targets, standard_triage

pytestmark = pytest.mark.django_db

URL = "/api/agreements/"


@pytest.fixture
def lead(requester_lead):
    client = APIClient()
    client.force_authenticate(requester_lead)
    return client


@pytest.fixture
def body(provider_team, requesting_team):
    return {
        "provider_team": provider_team.pk,
        "requesting_team": requesting_team.pk,
        "title": "Escalations",
        "targets": standard_targets(),
        "triage_fields": standard_triage(),
        "steps": standard_steps(),
    }


@pytest.fixture
def draft(lead, body):
    response = lead.post(URL, body, format="json")
    assert response.status_code == 201
    return Agreement.objects.get(pk=response.json()["id"])


def errors_of(response):
    assert response.status_code == 400, (response.status_code, response.content[:500])
    return response.json()


def with_target(body, index, **changes):
    body["targets"][index].update(changes)
    return body


# --- the service's rules, each on its own key -----------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"title": "   "}, ["title"]),
        ({"warning_threshold": 0}, ["warning_threshold"]),
        ({"warning_threshold": 100}, ["warning_threshold"]),
        ({"review_cadence_months": 13}, ["review_cadence_months"]),
        ({"waiting_auto_close_days": 0}, ["waiting_auto_close_days"]),
    ],
)
def test_version_field_rules(lead, body, changes, path):
    errors = errors_of(lead.post(URL, {**body, **changes}, format="json"))
    assert list(errors) == path
    assert not Agreement.objects.exists()


def test_the_two_teams_must_differ(lead, body, requesting_team):
    body["provider_team"] = requesting_team.pk
    assert list(errors_of(lead.post(URL, body, format="json"))) == ["requesting_team"]


@pytest.mark.parametrize(
    ("index", "changes", "field"),
    [
        (0, {"resolve_seconds": -1}, "resolve_seconds"),
        (0, {"acknowledge_seconds": 0}, "acknowledge_seconds"),
        # A later milestone cannot be due before an earlier one.
        (2, {"resolve_seconds": 60}, "resolve_seconds"),
        (1, {"action_plan_seconds": 60}, "action_plan_seconds"),
        (
            3,
            {"acknowledge_seconds": None, "action_plan_seconds": None, "resolve_seconds": None},
            "acknowledge_seconds",
        ),
        (3, {"priority": "P1"}, "priority"),  # P1 twice
    ],
)
def test_target_rules_land_on_the_target_and_field(lead, body, index, changes, field):
    errors = errors_of(lead.post(URL, with_target(body, index, **changes), format="json"))
    assert list(errors) == ["targets"]
    assert list(errors["targets"]) == [str(index)]
    assert list(errors["targets"][str(index)]) == [field]


@pytest.mark.parametrize(
    ("index", "changes", "field"),
    [
        (0, {"key": "Steps!"}, "key"),
        (0, {"key": ""}, "key"),
        (1, {"key": "steps"}, "key"),  # duplicate key
        (0, {"label": ""}, "label"),
        (1, {"choices": []}, "choices"),  # a choice field needs choices
        (1, {"choices": ["a", "a"]}, "choices"),
        (2, {"pattern": "(unclosed"}, "pattern"),
    ],
)
def test_triage_field_rules_land_on_the_field(lead, body, index, changes, field):
    body["triage_fields"][index].update(changes)
    errors = errors_of(lead.post(URL, body, format="json"))
    assert errors == {
        "triage_fields": {str(index): {field: errors["triage_fields"][str(index)][field]}}
    }


@pytest.mark.parametrize(
    ("index", "changes", "field"),
    [
        (0, {"percent": 0}, "percent"),
        (0, {"percent": None}, "percent"),
        (1, {"percent": 75}, "percent"),  # a second step at 75 % of resolve
        (0, {"notify": "user"}, "user"),  # a named person must be named
        (0, {"metric": None}, "metric"),
    ],
)
def test_step_rules_land_on_the_step(lead, body, index, changes, field):
    body["steps"][index].update(changes)
    errors = errors_of(lead.post(URL, body, format="json"))
    assert list(errors) == ["steps"]
    assert list(errors["steps"][str(index)]) == [field]


def test_every_broken_part_is_reported_at_once(lead, body):
    body["targets"][0]["resolve_seconds"] = -5
    body["triage_fields"][2]["key"] = "Bad key"
    body["steps"][1]["percent"] = 0
    errors = errors_of(lead.post(URL, {**body, "warning_threshold": 0}, format="json"))
    assert errors["targets"]["0"]["resolve_seconds"]
    assert errors["triage_fields"]["2"]["key"]
    assert errors["steps"]["1"]["percent"]
    assert errors["warning_threshold"]


def test_an_update_is_validated_like_a_new_draft(lead, draft):
    response = lead.patch(
        f"{URL}{draft.pk}/",
        {"targets": [{"priority": "P1", "acknowledge_seconds": 3600, "resolve_seconds": 60}]},
        format="json",
    )
    assert errors_of(response) == {
        "targets": {
            "0": {"resolve_seconds": [response.json()["targets"]["0"]["resolve_seconds"][0]]}
        }
    }
    draft.refresh_from_db()
    assert draft.targets.count() == 4  # nothing written


def test_patch_validates_the_items_of_a_list_in_full(lead, draft):
    response = lead.patch(f"{URL}{draft.pk}/", {"steps": [{"percent": 50}]}, format="json")
    assert list(errors_of(response)["steps"]["0"]) == ["metric"]


def test_submitting_a_draft_without_targets_is_refused(lead, draft):
    assert lead.patch(f"{URL}{draft.pk}/", {"targets": []}, format="json").status_code == 200
    errors = errors_of(lead.post(f"{URL}{draft.pk}/submit/"))
    assert list(errors) == ["targets"]
    draft.refresh_from_db()
    assert draft.status == "draft"


# --- malformed bodies: types, shapes, missing things --------------------------------------


def test_missing_fields_are_named(lead):
    errors = errors_of(lead.post(URL, {}, format="json"))
    assert set(errors) == {"provider_team", "requesting_team", "title"}


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"provider_team": 999999}, ("provider_team",)),
        ({"provider_team": "engineering"}, ("provider_team",)),
        ({"requesting_team": None}, ("requesting_team",)),
        ({"calendar": 999999}, ("calendar",)),
        ({"warning_threshold": "high"}, ("warning_threshold",)),
        ({"warning_threshold": 10**12}, ("warning_threshold",)),
        ({"warning_threshold": 7.5}, ("warning_threshold",)),
        ({"kind": "tantrum"}, ("kind",)),
        ({"next_review_date": "next tuesday"}, ("next_review_date",)),
        ({"title": ["a", "list"]}, ("title",)),
        ({"title": "x" * 201}, ("title",)),
        ({"title": "null\x00byte"}, ("title",)),
        ({"initial_response_by": "everyone"}, ("initial_response_by",)),
        ({"targets": "P1 fast please"}, ("targets",)),
        ({"targets": {"priority": "P1"}}, ("targets",)),
        ({"targets": None}, ("targets",)),
        ({"targets": ["P1"]}, ("targets", "0")),
        ({"targets": [[1, 2]]}, ("targets", "0")),
        ({"targets": [{"priority": "P9", "resolve_seconds": 60}]}, ("targets", "0", "priority")),
        (
            {"targets": [{"priority": "P1", "resolve_seconds": "an hour"}]},
            ("targets", "0", "resolve_seconds"),
        ),
        (
            {"targets": [{"priority": "P1", "resolve_seconds": 10**10}]},
            ("targets", "0", "resolve_seconds"),
        ),
        (
            {
                "targets": [
                    {"priority": "P1", "acknowledge_seconds": 60, "around_the_clock": "maybe"}
                ]
            },
            ("targets", "0", "around_the_clock"),
        ),
        (
            {"triage_fields": [{"key": "a", "label": "A", "kind": "colour"}]},
            ("triage_fields", "0", "kind"),
        ),
        (
            {"triage_fields": [{"key": "a", "label": "A", "kind": "choice", "choices": "a,b"}]},
            ("triage_fields", "0", "choices"),
        ),
        (
            {"triage_fields": [{"key": "a", "label": "A", "choices": [{"x": 1}]}]},
            ("triage_fields", "0", "choices"),
        ),
        ({"triage_fields": [{"key": "a" * 51, "label": "A"}]}, ("triage_fields", "0", "key")),
        (
            {"triage_fields": [{"key": "a", "label": "A", "order": -1}]},
            ("triage_fields", "0", "order"),
        ),
        ({"steps": [{"metric": "resolve", "percent": "lots"}]}, ("steps", "0", "percent")),
        ({"steps": [{"metric": "resolve", "percent": 10**6}]}, ("steps", "0", "percent")),
        (
            {"steps": [{"metric": "resolve", "percent": 50, "notify": "user", "user": 999999}]},
            ("steps", "0", "user"),
        ),
        ({"steps": [{"metric": "uptime", "percent": 50}]}, ("steps", "0", "metric")),
    ],
)
def test_malformed_input_is_a_field_keyed_400(lead, body, changes, path):
    errors = errors_of(lead.post(URL, {**body, **changes}, format="json"))
    node = errors
    for key in path:
        assert key in node, (path, errors)
        node = node[key]
    assert node
    assert not Agreement.objects.exists()


@pytest.mark.parametrize("payload", ["[]", '"a string"', "42", "null", "true"])
def test_a_body_that_is_not_an_object_is_a_400(lead, payload):
    response = lead.post(URL, payload, content_type="application/json")
    assert response.status_code == 400


def test_a_body_that_is_not_json_is_a_400(lead):
    response = lead.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_form_encoded_bodies_are_refused_politely(lead, body):
    response = lead.post(URL, {"title": "x"})  # multipart
    assert response.status_code == 415


@pytest.mark.parametrize("payload", ["[]", '"x"', "null", "17"])
@pytest.mark.parametrize("path", ["submit", "approve", "request-changes", "amend", "retire"])
def test_an_action_body_that_is_not_an_object_is_a_400(lead, draft, payload, path):
    response = lead.post(f"{URL}{draft.pk}/{path}/", payload, content_type="application/json")
    assert response.status_code == 400
    draft.refresh_from_db()
    assert draft.status == "draft"


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("approve", {"comment": ["a"]}),
        ("request-changes", {"comment": {"a": 1}}),
        ("retire", {"reason": ["why"]}),
    ],
)
def test_a_mistyped_comment_is_a_400(lead, draft, path, payload):
    response = lead.post(f"{URL}{draft.pk}/{path}/", payload, format="json")
    assert list(errors_of(response)) == list(payload)


def test_unknown_fields_are_ignored_not_a_500(lead, draft):
    response = lead.patch(
        f"{URL}{draft.pk}/", {"status": "active", "version": 7, "series": 3}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["version"]) == ("draft", 1)


@pytest.mark.parametrize(
    "query",
    ["status=nonsense", "provider_team=nobody", "team=nobody", "kind=x", "page=abc", "page=999"],
)
def test_bad_query_parameters_are_not_a_500(lead, draft, query):
    response = lead.get(f"{URL}?{query}")
    assert response.status_code in (400, 404)


@pytest.mark.parametrize("pk", ["abc", "999999", "-1"])
def test_unknown_ids_are_a_404(lead, pk):
    assert lead.get(f"{URL}{pk}/").status_code == 404
    assert lead.post(f"{URL}{pk}/submit/").status_code == 404
