"""The handoff lifecycle: transition table, who may act, events, triage enforcement."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.agreements.models import Status as AgreementStatus
from apps.core.exceptions import Conflict
from apps.handoffs import services
from apps.handoffs.models import EventKind, Handoff, Status
from tests.helpers import MONDAY_10, berlin

pytestmark = pytest.mark.django_db


def test_a_handoff_binds_to_the_version_in_force_and_records_its_creation(
    file_handoff, agreement, requester
):
    handoff = file_handoff("P3", customer_segment="enterprise", impacted_customers=12)
    assert handoff.agreement == agreement
    assert (handoff.provider_team, handoff.requesting_team) == (
        agreement.series.provider_team,
        agreement.series.requesting_team,
    )
    assert (handoff.status, handoff.customer_segment, handoff.impacted_customers) == (
        "new",
        "enterprise",
        12,
    )
    event = handoff.events.get()
    assert (event.kind, event.actor, event.created_at) == (EventKind.CREATED, requester, MONDAY_10)


def test_missing_required_triage_fields_are_refused_field_by_field(file_handoff):
    with pytest.raises(ValidationError) as caught:
        file_handoff(triage={"steps": "  ", "environment": "moon", "logs": "not a link"})
    errors = caught.value.message_dict
    assert errors["triage.steps"] == ["Steps to reproduce is required."]
    assert "Choose one of: production, staging" in errors["triage.environment"][0]
    assert "http" in errors["triage.logs"][0]
    assert not Handoff.objects.exists()


def test_unknown_triage_keys_and_non_objects_are_refused(file_handoff):
    with pytest.raises(ValidationError) as caught:
        file_handoff(triage={"steps": "x", "environment": "production", "extra": 1})
    assert "Unknown triage fields: extra" in caught.value.message_dict["triage"][0]
    with pytest.raises(ValidationError) as caught:
        file_handoff(triage=["not", "a", "dict"])
    assert "triage" in caught.value.message_dict


def test_only_active_agreements_accept_handoffs(file_handoff, agreement):
    agreement.status = AgreementStatus.SUPERSEDED
    agreement.save()
    with pytest.raises(ValidationError) as caught:
        file_handoff()
    assert "agreement" in caught.value.message_dict


def test_a_priority_the_agreement_does_not_define_is_refused(file_handoff, agreement):
    agreement.targets.filter(priority="P4").delete()
    with pytest.raises(ValidationError) as caught:
        file_handoff("P4")
    assert "P1, P2, P3" in caught.value.message_dict["priority"][0]


def test_only_requesting_team_members_file(agreement, provider_member, outsider):
    for actor in (provider_member, outsider):
        with pytest.raises(PermissionDenied):
            services.handoff_create(
                actor=actor,
                agreement=agreement,
                title="x",
                priority="P3",
                triage={"steps": "x", "environment": "production"},
                now=MONDAY_10,
            )


def test_the_full_happy_path_writes_one_event_per_change(file_handoff, provider_member, requester):
    handoff = file_handoff("P3")
    at = berlin(2026, 3, 2, 11)
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=at)
    services.handoff_start(handoff=handoff, actor=provider_member, now=at)
    services.handoff_post_action_plan(handoff=handoff, actor=provider_member, plan="p", now=at)
    services.handoff_wait_on_requester(handoff=handoff, actor=provider_member, question="q", now=at)
    services.handoff_resume(handoff=handoff, actor=requester, reply="a", now=at)
    services.handoff_comment(handoff=handoff, actor=requester, comment="thanks", now=at)
    services.handoff_resolve(handoff=handoff, actor=provider_member, resolution="r", now=at)
    services.handoff_close(handoff=handoff, actor=requester, now=at)
    handoff.refresh_from_db()
    assert handoff.status == Status.CLOSED
    kinds = [e.kind for e in handoff.events.exclude(kind__in=[EventKind.CLOCK_MET])]
    assert kinds == [
        "created",
        "acknowledged",
        "started",
        "action_plan",
        "waiting",
        "replied",
        "commented",
        "resolved",
        "closed",
    ]


@pytest.mark.parametrize(
    ("action", "kwargs"),
    [
        ("handoff_resolve", {"resolution": "done"}),
        ("handoff_resume", {}),
        ("handoff_close", {}),
        ("handoff_reopen", {"reason": "again"}),
    ],
)
def test_actions_the_status_does_not_allow_are_conflicts(
    file_handoff, provider_member, requester, action, kwargs
):
    handoff = file_handoff("P3")
    actor = provider_member if action == "handoff_resolve" else requester
    with pytest.raises(Conflict, match="that is new"):
        getattr(services, action)(handoff=handoff, actor=actor, now=MONDAY_10, **kwargs)
    handoff.refresh_from_db()
    assert handoff.status == Status.NEW
    assert handoff.events.count() == 1


def test_a_second_acknowledgement_is_told_who_got_there_first(
    file_handoff, provider_member, provider_lead
):
    handoff = file_handoff("P3")
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    with pytest.raises(Conflict) as caught:
        services.handoff_acknowledge(handoff=handoff, actor=provider_lead, now=MONDAY_10)
    assert caught.value.message.startswith("Already acknowledged by")
    assert provider_member.display_name in caught.value.message
    assert handoff.events.filter(kind=EventKind.ACKNOWLEDGED).count() == 1


def test_requesters_cannot_work_the_handoff_and_outsiders_cannot_touch_it(
    file_handoff, requester, outsider
):
    handoff = file_handoff("P3")
    with pytest.raises(PermissionDenied):
        services.handoff_acknowledge(handoff=handoff, actor=requester, now=MONDAY_10)
    for call in (
        lambda: services.handoff_comment(handoff=handoff, actor=outsider, comment="hi"),
        lambda: services.handoff_cancel(handoff=handoff, actor=outsider, reason="x"),
        lambda: services.handoff_claim(handoff=handoff, actor=outsider),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert handoff.events.count() == 1


def test_claiming_is_first_come_first_served(file_handoff, provider_member, provider_lead):
    handoff = file_handoff("P3")
    services.handoff_claim(handoff=handoff, actor=provider_member, now=MONDAY_10)
    with pytest.raises(Conflict, match="Already claimed by"):
        services.handoff_claim(handoff=handoff, actor=provider_lead, now=MONDAY_10)
    services.handoff_assign(handoff=handoff, actor=provider_lead, assignee=provider_lead)
    handoff.refresh_from_db()
    assert handoff.assignee == provider_lead


def test_only_provider_members_can_be_assigned(file_handoff, provider_lead, requester):
    handoff = file_handoff("P3")
    with pytest.raises(ValidationError) as caught:
        services.handoff_assign(handoff=handoff, actor=provider_lead, assignee=requester)
    assert "assignee" in caught.value.message_dict


def test_priority_change_needs_a_reason(file_handoff, provider_member):
    handoff = file_handoff("P3")
    with pytest.raises(ValidationError) as caught:
        services.handoff_change_priority(
            handoff=handoff, actor=provider_member, priority="P1", reason=" "
        )
    assert "reason" in caught.value.message_dict
    handoff.refresh_from_db()
    assert handoff.priority == "P3"


def test_available_actions_follow_status_and_side(file_handoff, provider_member, requester):
    handoff = file_handoff("P3")
    assert services.available_actions(provider_member, handoff) >= {
        "acknowledge",
        "start",
        "action_plan",
        "assign",
        "priority",
        "comment",
        "cancel",
    }
    assert "acknowledge" not in services.available_actions(requester, handoff)
    assert "cancel" in services.available_actions(requester, handoff)
