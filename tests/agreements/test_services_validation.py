"""Every validation rule of a version answers with a message on the field concerned, and
a refused change writes nothing."""

import pytest
from django.core.exceptions import ValidationError

from apps.agreements import services
from apps.agreements.models import Agreement, AgreementSeries, ExceptionWindow
from tests.factories import standard_steps, standard_targets, standard_triage

pytestmark = pytest.mark.django_db


def create(provider_team, requesting_team, actor, **overrides):
    spec = dict(
        actor=actor,
        provider_team=provider_team,
        requesting_team=requesting_team,
        title="Escalations",
        targets=standard_targets(),
        triage_fields=standard_triage(),
        steps=standard_steps(),
    )
    spec.update(overrides)
    return services.agreement_create_draft(**spec)


def errors_of(provider_team, requesting_team, actor, **overrides) -> dict:
    with pytest.raises(ValidationError) as caught:
        create(provider_team, requesting_team, actor, **overrides)
    assert not Agreement.objects.exists()
    assert not AgreementSeries.objects.exists()
    return caught.value.message_dict


@pytest.fixture
def check(provider_team, requesting_team, requester_lead):
    return lambda **overrides: errors_of(
        provider_team, requesting_team, requester_lead, **overrides
    )


def with_target(index, **changes):
    targets = standard_targets()
    targets[index].update(changes)
    return targets


def test_provider_and_requesting_team_must_differ(provider_team, provider_lead):
    errors = errors_of(provider_team, provider_team, provider_lead)
    assert "must differ" in errors["requesting_team"][0]


def test_title_is_required(check):
    assert "title" in check(title="  ")


@pytest.mark.parametrize("threshold", [0, 100, 150])
def test_warning_threshold_is_1_to_99_percent(check, threshold):
    assert "1 to 99" in check(warning_threshold=threshold)["warning_threshold"][0]


@pytest.mark.parametrize("value", [0, -60])
def test_targets_are_positive(check, value):
    errors = check(targets=with_target(1, resolve_seconds=value))
    assert "positive" in errors["targets.1.resolve_seconds"][0]


def test_acknowledge_may_not_exceed_the_action_plan(check):
    errors = check(targets=with_target(0, acknowledge_seconds=3 * 3600))
    assert "acknowledge" in errors["targets.0.action_plan_seconds"][0]


def test_action_plan_may_not_exceed_resolve_and_gaps_are_allowed(
    check, provider_team, requesting_team, requester_lead
):
    errors = check(targets=with_target(2, action_plan_seconds=100 * 3600))
    assert "action plan" in errors["targets.2.resolve_seconds"][0]
    # acknowledge ≤ resolve still holds across an empty action plan.
    errors = check(targets=with_target(2, action_plan_seconds=None, acknowledge_seconds=90 * 3600))
    assert "acknowledge" in errors["targets.2.resolve_seconds"][0]
    targets = with_target(2, action_plan_seconds=None)
    assert create(provider_team, requesting_team, requester_lead, targets=targets)


def test_each_priority_has_at_least_one_metric_and_appears_once(check):
    errors = check(
        targets=with_target(
            3, acknowledge_seconds=None, action_plan_seconds=None, resolve_seconds=None
        )
    )
    assert "at least one target" in errors["targets.3.acknowledge_seconds"][0]
    duplicate = [*standard_targets(), {"priority": "P2", "resolve_seconds": 3600}]
    assert "already defined" in check(targets=duplicate)["targets.4.priority"][0]


def test_escalation_percents_are_positive_and_unique_per_metric(check):
    steps = [*standard_steps(), {"metric": "resolve", "percent": 100, "notify": "both_leads"}]
    assert "already a step at 100" in check(steps=steps)["steps.2.percent"][0]
    steps = [{"metric": "resolve", "percent": 0, "notify": "assignee"}]
    assert "above 0" in check(steps=steps)["steps.0.percent"][0]


def test_the_same_percent_on_another_metric_is_fine(provider_team, requesting_team, requester_lead):
    steps = [*standard_steps(), {"metric": "acknowledge", "percent": 100, "notify": "assignee"}]
    agreement = create(provider_team, requesting_team, requester_lead, steps=steps)
    assert agreement.escalation_steps.count() == 3


def test_notifying_a_named_person_needs_the_person(check):
    steps = [{"metric": "resolve", "percent": 150, "notify": "user"}]
    assert "Name the person" in check(steps=steps)["steps.0.user"][0]


@pytest.mark.parametrize("key", ["Steps", "2nd", "with space", "dash-key", ""])
def test_triage_keys_are_slugs(check, key):
    fields = standard_triage()
    fields[0]["key"] = key
    assert "lowercase" in check(triage_fields=fields)["triage_fields.0.key"][0]


def test_triage_keys_are_unique(check):
    fields = standard_triage()
    fields[2]["key"] = "steps"
    assert "already uses the key" in check(triage_fields=fields)["triage_fields.2.key"][0]


def test_choice_fields_need_choices(check):
    fields = standard_triage()
    fields[1]["choices"] = ["", "  "]
    assert "needs choices" in check(triage_fields=fields)["triage_fields.1.choices"][0]


def test_patterns_must_compile(check):
    fields = standard_triage()
    fields[0]["pattern"] = "([a-z"
    message = check(triage_fields=fields)["triage_fields.0.pattern"][0]
    assert "Not a valid regular expression" in message


def test_a_refused_update_leaves_the_draft_as_it_was(
    provider_team, requesting_team, requester_lead
):
    draft = create(provider_team, requesting_team, requester_lead)
    with pytest.raises(ValidationError):
        services.agreement_update_draft(
            agreement=draft,
            actor=requester_lead,
            title="Renamed",
            targets=with_target(0, resolve_seconds=60),
        )
    draft.refresh_from_db()
    assert draft.title == "Escalations"
    assert draft.target_for("P1").resolve_seconds == 8 * 3600


def test_exception_window_must_end_after_it_starts_and_give_a_reason(
    provider_team, provider_member
):
    from datetime import UTC, datetime

    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with pytest.raises(ValidationError) as caught:
        services.exception_window_request(
            actor=provider_member,
            provider_team=provider_team,
            start=start,
            end=start,
            reason=" ",
            affected_customers="EU customers",
            communication_plan="Status page",
            now=start,
        )
    assert set(caught.value.message_dict) == {"end", "reason"}
    assert not ExceptionWindow.objects.exists()
