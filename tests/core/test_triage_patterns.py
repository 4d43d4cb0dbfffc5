"""A lead-written triage pattern cannot hold a worker: matches run with a timeout, all the
matches of a filing share one budget, and a pattern too costly to compile is refused when
saved (and skipped if an older one is stored)."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse

from apps.agreements.models import FieldKind, TriageField
from apps.core import limits, patterns
from apps.handoffs.models import Handoff
from tests.factories import standard_targets
from tests.helpers import TRIAGE, client_for

pytestmark = pytest.mark.django_db

# Catastrophic for a backtracking matcher: `re` takes hours on this answer. The `regex`
# package sees through the first and times out on the second.
CATASTROPHIC = [r"(a+)+$", r"(a|a)*$", r"(?:(?:a|a)*)*$", r"(.*a){40}"]
ANSWER = "a" * (limits.TRIAGE_TEXT_MAX - 1) + "!"


def with_pattern(agreement, pattern: str, key: str = "ticket", order: int = 10) -> TriageField:
    return TriageField.objects.create(
        agreement=agreement,
        key=key,
        label=key.title(),
        kind=FieldKind.TEXT,
        required=False,
        pattern=pattern,
        order=order,
    )


def file_by_api(agreement, user, answers: dict):
    body = {
        "agreement": agreement.pk,
        "title": "Checkout crashes",
        "priority": "P2",
        "triage": {**TRIAGE, **answers},
    }
    return client_for(user).post("/api/handoffs/", body, format="json")


def file_by_page(agreement, user, answers: dict):
    client = Client()
    client.force_login(user)
    data = {
        "title": "Checkout crashes",
        "priority": "P2",
        "customer_segment": "business",
        "impacted_customers": "0",
        "triage-steps": TRIAGE["steps"],
        "triage-environment": TRIAGE["environment"],
        **{f"triage-{key}": value for key, value in answers.items()},
    }
    return client.post(f"{reverse('handoffs:new')}?agreement={agreement.pk}", data)


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_catastrophic_pattern_is_a_quick_400_on_the_api(agreement, requester, pattern):
    with_pattern(agreement, pattern)
    started = time.monotonic()
    response = file_by_api(agreement, requester, {"ticket": ANSWER})
    assert time.monotonic() - started < 1
    assert response.status_code == 400, response.content
    message = response.json()["triage"]["ticket"][0]
    assert message in (patterns.TIMEOUT_MESSAGE, "Ticket does not have the expected format.")
    assert not Handoff.objects.exists()


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_catastrophic_pattern_is_a_quick_field_error_on_the_page(agreement, requester, pattern):
    with_pattern(agreement, pattern)
    started = time.monotonic()
    response = file_by_page(agreement, requester, {"ticket": ANSWER})
    assert time.monotonic() - started < 1
    assert response.status_code == 200
    assert response.context["triage_form"].errors["ticket"]
    assert not Handoff.objects.exists()


def test_a_match_that_runs_out_of_time_says_so(agreement, requester):
    with_pattern(agreement, r"(a|a)*$")
    response = file_by_api(agreement, requester, {"ticket": ANSWER})
    assert response.json()["triage"]["ticket"] == [patterns.TIMEOUT_MESSAGE]
    page = file_by_page(agreement, requester, {"ticket": ANSWER})
    assert page.context["triage_form"].errors["ticket"] == [patterns.TIMEOUT_MESSAGE]


def test_many_catastrophic_fields_share_one_budget(agreement, requester):
    keys = [f"field_{n}" for n in range(20)]
    for order, key in enumerate(keys):
        with_pattern(agreement, r"(a|a)*$", key=key, order=20 + order)
    answers = dict.fromkeys(keys, ANSWER)
    started = time.monotonic()
    response = file_by_api(agreement, requester, answers)
    page = file_by_page(agreement, requester, answers)
    assert time.monotonic() - started < 2  # two requests, each under a second
    assert response.status_code == 400
    assert set(response.json()["triage"]) == set(keys)
    assert set(page.context["triage_form"].errors) == set(keys)
    assert not Handoff.objects.exists()


def test_a_sensible_pattern_still_checks_the_answer(agreement, requester):
    with_pattern(agreement, r"ZD-\d+")
    refused = file_by_api(agreement, requester, {"ticket": "12"})
    assert refused.json()["triage"]["ticket"] == ["Ticket does not have the expected format."]
    page = file_by_page(agreement, requester, {"ticket": "12"})
    assert "Does not match the expected format" in page.context["triage_form"].errors["ticket"][0]
    assert file_by_api(agreement, requester, {"ticket": "ZD-12"}).status_code == 201


def test_a_stored_pattern_too_costly_to_compile_checks_nothing(agreement, requester):
    # Saved before patterns were bounded (`re` accepted it): filing must still work.
    with_pattern(agreement, "x{4294967294}")
    started = time.monotonic()
    assert file_by_api(agreement, requester, {"ticket": "anything"}).status_code == 201
    assert file_by_page(agreement, requester, {"ticket": "anything"}).status_code == 302
    assert time.monotonic() - started < 1


# --- saving a pattern ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("(unclosed", "Not a valid regular expression"),
        ("x{4294967294}", "counted repeats"),
        ("(?:a{1000}){1000}", "counted repeats"),
        ("(?x)#[\na{100000}]", "Verbose mode"),
    ],
)
def test_a_pattern_that_cannot_be_used_is_refused_when_saved(
    provider_lead, provider_team, requesting_team, pattern, words
):
    started = time.monotonic()
    response = client_for(provider_lead).post(
        "/api/agreements/",
        {
            "provider_team": provider_team.pk,
            "requesting_team": requesting_team.pk,
            "title": "Escalations",
            "targets": standard_targets(),
            "triage_fields": [{"key": "ticket", "label": "Ticket", "pattern": pattern}],
        },
        format="json",
    )
    assert time.monotonic() - started < 1
    assert response.status_code == 400, response.content
    assert words in response.json()["triage_fields"]["0"]["pattern"][0]


def test_the_editor_page_refuses_a_costly_pattern(provider_lead, provider_team, requesting_team):
    from tests.agreements.test_pages_editor import TRIAGE as ROWS
    from tests.agreements.test_pages_editor import editor_data, with_row

    client = Client()
    client.force_login(provider_lead)
    data = editor_data(
        teams=(provider_team, requesting_team),
        triage=with_row(ROWS, 2, pattern="(?:a{1000}){1000}"),
    )
    response = client.post(reverse("agreements:new"), data)
    assert response.status_code == 200
    errors = response.context["triage_formset"].forms[2].errors["pattern"]
    assert "counted repeats" in errors[0]


# --- the pattern module ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "weight"),
    [
        (r"\d{4}-\d{2}-\d{2}", 10),
        ("(?:ab){3}", (2 + 2) * 3),  # `?:` counts as characters: an upper bound
        ("[a{999}]{2}", 2),
        ("(?#x{99999})a{5}", 5),
        ("a{0}b", 1),
    ],
)
def test_weight_bounds_what_counted_repeats_spell_out(pattern, weight):
    assert patterns._weight(pattern) == weight


def test_a_refused_pattern_is_refused_before_it_is_compiled():
    started = time.monotonic()
    for pattern in ("x{4294967294}", "((a{99}){99}){99}", "[]{99999}]{99999}"):
        assert "counted repeats" in patterns.pattern_problem(pattern)
    assert time.monotonic() - started < 0.1
