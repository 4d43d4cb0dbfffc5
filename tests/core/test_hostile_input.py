"""Hostile input, on pages and the API alike: a clear 4xx with its message, never a 500,
never a worker held for seconds, and nothing written.

Each case is what an outside probe sent over HTTP (issue 11): exponent numbers, Unicode
digits, far dates in far zones, deeply nested and surrogate-laden JSON, oversized bodies,
texts longer than the page allows, and markup in lead-written help text.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from apps.agreements.models import ExceptionWindow, FieldKind, TriageField
from apps.calendars.models import Holiday
from apps.core import limits
from apps.handoffs.models import EventKind, Handoff, HandoffEvent
from tests.helpers import TRIAGE, client_for

pytestmark = pytest.mark.django_db


# Overrides tests/conftest.py's `agreement`: the same agreement, with a number field.
@pytest.fixture
def agreement(agreement):
    TriageField.objects.create(
        agreement=agreement,
        key="impacted",
        label="Impacted customers",
        kind=FieldKind.NUMBER,
        required=False,
        order=10,
    )
    return agreement


def page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_json(client, url: str, text: str):
    """Send `text` as the body as is: json.dumps escapes a lone surrogate as `\\ud800`,
    which DRF's test renderer could not encode."""
    return client.post(url, data=text.encode(), content_type="application/json")


def handoff_body(agreement, **overrides) -> dict:
    return {
        "agreement": agreement.pk,
        "title": "Checkout crashes",
        "priority": "P2",
        "triage": dict(TRIAGE),
        **overrides,
    }


@pytest.fixture
def handoff(agreement, requester):
    response = client_for(requester).post("/api/handoffs/", handoff_body(agreement), format="json")
    assert response.status_code == 201, response.content
    return Handoff.objects.get(pk=response.json()["id"])


# --- texts: the page's limits are the API's ---------------------------------------------


def test_a_comment_longer_than_the_page_allows_is_refused_by_page_and_api(handoff, provider_member):
    comment = "x" * 15_000
    response = page(provider_member).post(
        reverse("handoffs:comment", kwargs={"pk": handoff.pk}), {"comment": comment}
    )
    assert response.status_code == 400  # the detail page again, the form as typed
    assert "at most 10000 characters" in response.content.decode().replace(",", "")

    response = client_for(provider_member).post(
        f"/api/handoffs/{handoff.pk}/comment/", {"comment": comment}, format="json"
    )
    assert response.status_code == 400
    assert "10000" in response.json()["comment"][0]
    assert not HandoffEvent.objects.filter(kind=EventKind.COMMENTED).exists()


def test_a_two_megabyte_description_is_a_400_on_the_api(agreement, requester):
    body = handoff_body(agreement, description="x" * 2_000_000)
    response = client_for(requester).post("/api/handoffs/", body, format="json")
    assert response.status_code == 400
    assert "description" in response.json()
    assert not Handoff.objects.exists()


# --- numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1e1000000", "1e5000", "-1e5000", "9" * 40, "²", "١٢"])
def test_an_exponent_or_odd_digits_in_a_number_answer_is_a_quick_400(agreement, requester, number):
    started = time.monotonic()
    response = client_for(requester).post(
        "/api/handoffs/",
        handoff_body(agreement, triage={**TRIAGE, "impacted": number}),
        format="json",
    )
    assert time.monotonic() - started < 1
    assert response.status_code == 400, response.content
    assert "must be a number" in response.json()["triage"]["impacted"][0]
    assert not Handoff.objects.exists()


def test_the_filing_page_refuses_a_huge_number_answer_quickly(agreement, requester):
    url = f"{reverse('handoffs:new')}?agreement={agreement.pk}"
    data = {
        "title": "Checkout crashes",
        "priority": "P2",
        "customer_segment": "business",
        "impacted_customers": "0",
        "triage-steps": "crash",
        "triage-environment": "production",
        "triage-impacted": "1e1000000",
    }
    started = time.monotonic()
    response = page(requester).post(url, data)
    assert time.monotonic() - started < 1
    assert response.status_code == 200
    assert response.context["triage_form"].errors["impacted"]
    assert not Handoff.objects.exists()


def test_a_plain_number_answer_is_stored_as_a_number(agreement, requester):
    response = client_for(requester).post(
        "/api/handoffs/",
        handoff_body(agreement, triage={**TRIAGE, "impacted": "1e3"}),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Handoff.objects.get().triage["impacted"] == 1000


@pytest.mark.parametrize("value", ["²", "٣", "1²", "99999999999999999999", "%23²"])
def test_unicode_digits_in_query_parameters_are_no_match_not_a_500(
    handoff, provider_member, requester, value
):
    client = page(provider_member)
    for url in (
        f"/api/handoffs/?assignee={value}",
        f"/api/handoffs/?q={value}",
        f"/queues/engineering/?assignee={value}&q={value}",
        f"/api/action-items/?owner={value}",
    ):
        response = client.get(url, {})
        assert response.status_code == 200, (url, response.status_code)
    assert page(requester).get(f"/handoffs/new/?agreement={value}").status_code == 404
    compare = f"/agreements/{handoff.agreement_id}/compare/?with={value}"
    assert client.get(compare).status_code == 404


def test_q_still_finds_a_handoff_by_its_number(handoff, provider_member):
    response = client_for(provider_member).get(f"/api/handoffs/?q=%23{handoff.pk}")
    assert [row["id"] for row in response.json()["results"]] == [handoff.pk]


# --- dates and times -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("Etc/GMT+12", "9999-12-31T23:00", "9999-12-31T23:59"),
        ("Etc/GMT-14", "0001-01-01T00:00", "0001-01-01T04:00"),
        ("UTC", "2100-01-01T00:00", "2100-01-01T04:00"),
        ("UTC", "1999-12-31T20:00", "1999-12-31T23:00"),
    ],
)
def test_a_window_outside_2000_to_2100_is_refused_on_the_page_in_any_zone(
    provider_member, provider_team, zone, start, end
):
    provider_member.time_zone = zone
    provider_member.save(update_fields=["time_zone"])
    response = page(provider_member).post(
        reverse("agreements:window-new"),
        {
            "provider_team": provider_team.pk,
            "series": "",
            "start": start,
            "end": end,
            "reason": "Far away",
        },
    )
    assert response.status_code == 200
    assert "between 1 Jan 2000 and 31 Dec 2099" in response.context["form"].errors["start"][0]
    assert not ExceptionWindow.objects.exists()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("9999-12-31T23:00:00-12:00", "9999-12-31T23:59:00-12:00"),
        ("0001-01-01T00:00:00+14:00", "0001-01-01T04:00:00+14:00"),
        ("9999-12-31T23:00", "9999-12-31T23:59"),
        ("2100-01-01T00:00:00Z", "2100-01-02T00:00:00Z"),
    ],
)
def test_a_window_outside_2000_to_2100_is_refused_by_the_api(
    provider_member, provider_team, start, end
):
    response = client_for(provider_member).post(
        "/api/exception-windows/",
        {"provider_team": provider_team.pk, "start": start, "end": end, "reason": "Far"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "between 1 Jan 2000 and 31 Dec 2099" in response.json()["start"][0]
    assert not ExceptionWindow.objects.exists()


def test_a_window_at_the_edge_of_the_range_is_accepted(provider_member, provider_team):
    response = client_for(provider_member).post(
        "/api/exception-windows/",
        {
            "provider_team": provider_team.pk,
            "start": "2099-12-31T20:00:00Z",
            "end": "2099-12-31T23:00:00Z",
            "reason": "Last night of the century",
        },
        format="json",
    )
    # The service may refuse it on its own rules (how far ahead); never the range check.
    assert response.status_code in (201, 400), response.content
    if response.status_code == 400:
        assert "2000" not in json.dumps(response.json())
    else:
        assert ExceptionWindow.objects.get().start == datetime(2099, 12, 31, 20, tzinfo=UTC)


# --- JSON bodies ---------------------------------------------------------------------


def test_every_api_view_parses_json_with_the_safe_parser():
    from django.urls import get_resolver
    from rest_framework.parsers import JSONParser

    from apps.core.api import SafeJSONParser

    def views(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from views(pattern.url_patterns)
            else:
                yield pattern.callback

    checked = 0
    for callback in views(get_resolver().url_patterns):
        view = getattr(callback, "cls", None)
        if view is None or not hasattr(view, "parser_classes"):
            continue
        initkwargs = getattr(callback, "initkwargs", {}) or {}
        parsers = initkwargs.get("parser_classes", view.parser_classes)
        for parser in parsers:
            if issubclass(parser, JSONParser):
                assert issubclass(parser, SafeJSONParser), f"{view.__name__} uses {parser}"
        checked += 1
    assert checked > 10


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [60_000, limits.JSON_DEPTH_MAX + 2])
def test_deeply_nested_json_is_a_400_on_agreements(provider_lead, requesting_team, depth):
    response = post_json(client_for(provider_lead), "/api/agreements/", nested(depth))
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_an_outsider_is_refused_before_the_body_is_read(agreement, outsider):
    client = client_for(outsider)
    for action in ("approve", "submit", "retire", "amend", "request-changes"):
        response = post_json(client, f"/api/agreements/{agreement.pk}/{action}/", nested(60_000))
        assert response.status_code in (403, 404), (action, response.status_code)
    response = post_json(client, f"/api/handoffs/{1}/comment/", nested(60_000))
    assert response.status_code == 404


@pytest.mark.parametrize(
    "triage",
    [
        '{"\\ud800": "x", "steps": "crash", "environment": "production"}',
        '{"steps": "crash \\ud800", "environment": "production"}',
        '{"steps": "crash", "environment": "production", "impacted": "\\udfff"}',
    ],
)
def test_a_lone_surrogate_in_triage_is_a_400(agreement, requester, triage):
    text = (
        f'{{"agreement": {agreement.pk}, "title": "Crash", "priority": "P2", "triage": {triage}}}'
    )
    response = post_json(client_for(requester), "/api/handoffs/", text)
    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]
    assert not Handoff.objects.exists()


def test_a_surrogate_pair_is_a_character_and_is_kept(agreement, requester):
    text = (
        f'{{"agreement": {agreement.pk}, "title": "Crash \\ud83d\\ude00", "priority": "P2", '
        '"triage": {"steps": "crash", "environment": "production"}}'
    )
    response = post_json(client_for(requester), "/api/handoffs/", text)
    assert response.status_code == 201, response.content
    assert Handoff.objects.get().title == "Crash 😀"


def test_a_lone_surrogate_in_what_if_keys_is_a_400(agreement, provider_lead):
    from datetime import date

    from apps.reviews.models import QuarterlyReview, ReviewStatus

    review = QuarterlyReview.objects.create(
        series=agreement.series,
        agreement=agreement,
        period_start=date(2026, 1, 1),
        period_end=date(2026, 4, 1),
        due_date=date(2026, 4, 15),
        status=ReviewStatus.SCHEDULED,
    )
    response = post_json(
        client_for(provider_lead),
        f"/api/reviews/{review.pk}/what-if/",
        '{"targets": {"\\ud800": {"resolve": 3600}}}',
    )
    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]


# --- bodies too large or malformed -----------------------------------------------------


def test_an_oversized_json_body_is_a_json_413(agreement, requester):
    body = json.dumps(handoff_body(agreement, description="x" * 3_000_000))
    response = post_json(client_for(requester), "/api/handoffs/", body)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "too large" in response.json()["detail"]
    assert not Handoff.objects.exists()


def test_an_oversized_form_post_is_a_413_page(agreement, requester):
    url = f"{reverse('handoffs:new')}?agreement={agreement.pk}"
    response = page(requester).post(url, {"title": "x", "description": "x" * 3_000_000})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    content = response.content.decode()
    assert "Request too large" in content
    assert "Nothing was saved" in content
    assert not Handoff.objects.exists()


def test_malformed_json_is_a_json_400(agreement, requester):
    response = post_json(client_for(requester), "/api/handoffs/", '{"agreement": ')
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_a_bad_content_length_is_a_400(requester):
    client = client_for(requester)
    response = client.generic(
        "POST", "/api/handoffs/", b"{}", content_type="application/json", CONTENT_LENGTH="x1"
    )
    assert response.status_code == 400
    assert "Content-Length" in response.json()["detail"]
    response = page(requester).generic("POST", "/handoffs/new/", b"", CONTENT_LENGTH="²")
    assert response.status_code == 400
    assert "Content-Length" in response.content.decode()


def test_too_many_form_fields_is_a_400_page(agreement, requester):
    url = f"{reverse('handoffs:new')}?agreement={agreement.pk}"
    data = {f"field{i}": "x" for i in range(1_500)}
    response = page(requester).post(url, data)
    assert response.status_code == 400
    assert "Too many fields" in response.content.decode()
    assert not Handoff.objects.exists()


# --- lead-written text is text -------------------------------------------------------

PAYLOAD = '<meta http-equiv=refresh content="2;url=https://evil.example/">'


def test_markup_in_triage_help_text_renders_as_text(agreement, requester, outsider):
    TriageField.objects.filter(agreement=agreement, key="steps").update(
        help_text=PAYLOAD, label='<b onmouseover="x">Steps</b>'
    )
    for user, url in (
        (outsider, agreement.get_absolute_url()),
        (requester, f"{reverse('handoffs:new')}?agreement={agreement.pk}"),
    ):
        content = page(user).get(url).content.decode()
        assert "<meta http-equiv=refresh" not in content, url
        assert "&lt;meta http-equiv=refresh" in content, url
        assert '<b onmouseover="x">' not in content, url


def test_markup_in_help_text_written_through_the_api_renders_as_text(
    provider_lead, provider_team, requesting_team
):
    from tests.factories import standard_steps, standard_targets

    response = client_for(provider_lead).post(
        "/api/agreements/",
        {
            "provider_team": provider_team.pk,
            "requesting_team": requesting_team.pk,
            "title": "Escalations",
            "targets": standard_targets(),
            "triage_fields": [
                {"key": "steps", "label": "Steps", "kind": "text", "help_text": PAYLOAD}
            ],
            "steps": standard_steps(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    content = page(provider_lead).get(f"/agreements/{response.json()['id']}/").content.decode()
    assert "<meta http-equiv=refresh" not in content
    assert "&lt;meta http-equiv=refresh" in content


# --- editors: holiday names, targets -------------------------------------------------


def test_a_holiday_name_over_200_characters_is_a_field_error(provider_lead, provider_team):
    from tests.calendars.test_calendar_pages import form_data

    url = reverse("calendars:edit", kwargs={"pk": provider_team.calendar_id})
    response = page(provider_lead).post(
        url, form_data(custom_holidays="2030-12-24 " + "N" * 201, holiday_country="")
    )
    assert response.status_code == 200
    assert "at most 200 characters" in response.context["form"].errors["custom_holidays"][0]
    assert not Holiday.objects.filter(name__startswith="NNN").exists()


@pytest.mark.parametrize("target", ["99999999999", "999999999h", "87841h"])
def test_a_target_beyond_ten_years_is_a_field_error_on_the_editor(
    provider_lead, provider_team, requesting_team, target
):
    from tests.agreements.test_pages_editor import TIERS, editor_data, with_row

    data = editor_data(
        teams=(provider_team, requesting_team),
        targets=with_row(TIERS, 2, resolve_seconds=target),
    )
    response = page(provider_lead).post(reverse("agreements:new"), data)
    assert response.status_code == 200
    errors = response.context["targets_formset"].forms[2].errors["resolve_seconds"]
    assert "longer than any target can be" in errors[0]


def test_a_target_beyond_ten_years_is_a_400_on_the_api(
    provider_lead, provider_team, requesting_team
):
    from tests.factories import standard_targets

    targets = standard_targets()
    targets[0]["resolve_seconds"] = 99_999_999_999
    response = client_for(provider_lead).post(
        "/api/agreements/",
        {
            "provider_team": provider_team.pk,
            "requesting_team": requesting_team.pk,
            "title": "Escalations",
            "targets": targets,
        },
        format="json",
    )
    assert response.status_code == 400
    assert "resolve_seconds" in response.json()["targets"]["0"]


# --- the services refuse it whoever calls ----------------------------------------------


def test_the_handoff_services_refuse_oversized_texts(agreement, requester, handoff):
    from django.core.exceptions import ValidationError

    from apps.handoffs import services

    with pytest.raises(ValidationError) as caught:
        services.handoff_create(
            actor=requester,
            agreement=agreement,
            title="t" * 201,
            priority="P2",
            triage=TRIAGE,
            description="d" * 10_001,
            impacted_customers=limits.IMPACTED_CUSTOMERS_MAX + 1,
        )
    assert set(caught.value.message_dict) >= {"title", "description", "impacted_customers"}
    with pytest.raises(ValidationError) as caught:
        services.handoff_comment(handoff=handoff, actor=requester, comment="c" * 10_001)
    assert "comment" in caught.value.message_dict
    assert Handoff.objects.count() == 1
    assert not HandoffEvent.objects.filter(kind=EventKind.COMMENTED).exists()


def test_the_window_service_refuses_moments_outside_the_range(provider_member, provider_team):
    from datetime import timedelta, timezone

    from django.core.exceptions import ValidationError

    from apps.agreements import services

    far = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-12)))
    with pytest.raises(ValidationError) as caught:
        services.exception_window_request(
            actor=provider_member,
            provider_team=provider_team,
            start=far,
            end=far + timedelta(minutes=59),
            reason="Far",
            affected_customers="none",
            communication_plan="none",
        )
    assert set(caught.value.message_dict) >= {"start", "end"}
    assert not ExceptionWindow.objects.exists()


def test_the_agreement_service_refuses_a_target_beyond_ten_years(
    provider_lead, provider_team, requesting_team
):
    from django.core.exceptions import ValidationError

    from apps.agreements import services
    from tests.factories import standard_targets

    targets = standard_targets()
    targets[0]["resolve_seconds"] = limits.TARGET_SECONDS_MAX + 1
    with pytest.raises(ValidationError) as caught:
        services.agreement_create_draft(
            actor=provider_lead,
            provider_team=provider_team,
            requesting_team=requesting_team,
            title="Escalations",
            targets=targets,
            triage_fields=[{"key": "k", "label": "L" * 121, "kind": "text"}],
        )
    assert "targets.0.resolve_seconds" in caught.value.message_dict
    assert "triage_fields.0.label" in caught.value.message_dict


def test_the_schema_documents_413_on_every_operation_with_a_body():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    with_body = [
        (path, method, operation)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    ]
    assert with_body
    for path, method, operation in with_body:
        response = operation["responses"].get("413")
        assert response, f"{method.upper()} {path}"
        assert response["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ApiError"
        }


@pytest.mark.parametrize(
    "target", ["୧", "x", "dashboard", "//evil.example/", "https://evil.example/"]
)
def test_a_next_that_is_not_a_path_on_this_site_falls_back(handoff, provider_member, target):
    response = page(provider_member).post(
        reverse("handoffs:comment", kwargs={"pk": handoff.pk}),
        {"comment": "Looking", "next": target},
    )
    assert response.status_code == 302
    assert response["Location"] == handoff.get_absolute_url()
    assert HandoffEvent.objects.filter(kind=EventKind.COMMENTED).count() == 1
