"""The agreement page: a one-screen summary, the triage preview, and buttons only for those
who may use them."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.agreements import services
from apps.agreements.forms import triage_form_class
from apps.agreements.models import Agreement, ExceptionWindow, Status, TriageField
from tests.factories import (
    AgreementFactory,
    AgreementSeriesFactory,
    standard_steps,
    standard_targets,
    standard_triage,
)

pytestmark = pytest.mark.django_db

ACTIONS = ("edit", "submit", "approve", "request-changes", "amend", "retire")


@pytest.fixture
def active(provider_team, requesting_team):
    series = AgreementSeriesFactory(provider_team=provider_team, requesting_team=requesting_team)
    return AgreementFactory(
        series=series,
        title="Support → Engineering escalations",
        scope_included="Product defects",
        scope_excluded="Feature requests",
        customer_sla="Enterprise customers get a first response within 1 h.",
        playbook="Page the on-call engineer for every P1.",
        activated_at=timezone.now(),
    )


def shown_actions(html: str) -> set[str]:
    return set(re.findall(r'data-testid="action-([a-z-]+?)(?:-toggle)?"', html)) & set(ACTIONS)


def test_detail_reads_as_a_summary_in_readable_units(client, requester, active):
    client.force_login(requester)
    response = client.get(active.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    promise = response.context["agreement"]
    assert promise == active
    # The two promises.
    assert "Support promises Engineering to hand work over" in html
    assert (
        "Engineering promises Support to meet these targets: P1 critical — acknowledge within"
        " 30 min, action plan within 2 h, resolve within 8 h (24×7)" in html
    )
    # P1 runs 24×7: plain hours; P3 on the calendar: business hours; P4 best effort.
    targets = re.search(r'data-testid="targets".*?</table>', html, re.S).group(0)
    assert "30 min" in targets and "8 h" in targets
    assert "8 business h" in targets and "80 business h" in targets
    assert "best effort" in targets
    assert "24×7" in targets
    # Calendar, scope, SLA, playbook, ladder.
    calendar = active.calendar
    assert reverse("calendars:detail", args=[calendar.pk]) in html
    assert calendar.name in html and calendar.time_zone in html
    assert "Product defects" in html and "Feature requests" in html
    assert "first response within 1 h" in html
    assert "Page the on-call engineer" in html
    assert "75 % of the resolve target" in html
    assert "Engineering’s lead" not in html or "Validates the resolution" in html


def test_triage_template_is_previewed_as_the_requester_will_see_it(client, requester, active):
    client.force_login(requester)
    response = client.get(active.get_absolute_url())
    preview = response.context["triage_preview"]
    assert list(preview.fields) == ["steps", "environment", "logs"]
    assert all(field.disabled for field in preview.fields.values())
    html = response.content.decode()
    section = re.search(r'data-testid="triage-preview".*?</div>\s*</div>', html, re.S).group(0)
    assert "<textarea" in section and "Steps to reproduce" in section
    assert '<option value="production">production</option>' in section
    assert 'type="url"' in section
    assert "disabled" in section


def test_triage_form_class_builds_each_kind_with_its_rules(provider_team):
    fields = [
        TriageField(key="ticket", label="Ticket", kind="text", pattern=r"ZD-\d+", order=3),
        TriageField(key="notes", label="Notes", kind="long_text", required=False, order=1),
        TriageField(key="env", label="Env", kind="choice", choices=["prod", "stage"], order=2),
        TriageField(key="count", label="Customers", kind="number", order=4),
        TriageField(key="who", label="Contact", kind="email", help_text="Their address", order=5),
        TriageField(key="link", label="Link", kind="url", order=6),
    ]
    form_class = triage_form_class(fields)
    assert list(form_class.base_fields) == ["notes", "env", "ticket", "count", "who", "link"]
    good = form_class(
        {
            "ticket": "ZD-12",
            "env": "prod",
            "count": "3",
            "who": "a@example.com",
            "link": "https://example.com/x",
        }
    )
    assert good.is_valid(), good.errors
    bad = form_class(
        {"ticket": "12", "env": "qa", "count": "many", "who": "nobody", "link": "not a url"}
    )
    assert not bad.is_valid()
    assert set(bad.errors) == {"ticket", "env", "count", "who", "link"}
    assert form_class.base_fields["who"].help_text == "Their address"
    # Dicts work as well as rows (the API and the editor preview pass dicts).
    assert list(triage_form_class(standard_triage()).base_fields) == [
        "steps",
        "environment",
        "logs",
    ]


def test_reader_outside_both_teams_sees_no_buttons(client, outsider, active):
    client.force_login(outsider)
    response = client.get(active.get_absolute_url())
    assert response.status_code == 200
    assert shown_actions(response.content.decode()) == set()


def test_members_see_no_buttons_but_leads_may_amend_and_retire(
    client, provider_member, requester, provider_lead, requester_lead, active
):
    for user in (provider_member, requester):
        client.force_login(user)
        assert shown_actions(client.get(active.get_absolute_url()).content.decode()) == set()
    for user in (provider_lead, requester_lead):
        client.force_login(user)
        html = client.get(active.get_absolute_url()).content.decode()
        assert shown_actions(html) == {"amend", "retire"}


def test_draft_buttons_for_a_lead(client, provider_lead, provider_team, requesting_team):
    draft = services.agreement_create_draft(
        actor=provider_lead,
        provider_team=provider_team,
        requesting_team=requesting_team,
        title="Draft",
        targets=standard_targets(),
        triage_fields=standard_triage(),
        steps=standard_steps(),
    )
    client.force_login(provider_lead)
    html = client.get(draft.get_absolute_url()).content.decode()
    assert shown_actions(html) == {"edit", "submit", "retire"}
    assert "Asked once the draft is submitted." in html


def test_in_review_buttons_follow_who_still_has_to_approve(
    client, provider_lead, requester_lead, provider_member, provider_team, requesting_team
):
    draft = services.agreement_create_draft(
        actor=provider_lead,
        provider_team=provider_team,
        requesting_team=requesting_team,
        title="Draft",
        targets=standard_targets(),
    )
    services.agreement_submit(agreement=draft, actor=provider_lead)
    services.agreement_approve(agreement=draft, actor=provider_lead)

    client.force_login(provider_lead)  # already approved for Engineering
    html = client.get(draft.get_absolute_url()).content.decode()
    assert shown_actions(html) == {"request-changes", "retire"}
    assert "Approved by" in html

    client.force_login(requester_lead)
    response = client.get(draft.get_absolute_url())
    html = response.content.decode()
    assert shown_actions(html) == {"approve", "request-changes", "retire"}
    assert "Approve for Support" in html
    assert [t.name for t in response.context["sides_to_approve"]] == ["Support"]
    assert "Awaiting " + requester_lead.display_name in html

    client.force_login(provider_member)
    assert shown_actions(client.get(draft.get_absolute_url()).content.decode()) == set()


def test_amend_is_not_offered_while_a_new_version_is_open(client, provider_lead, active):
    services.agreement_amend(agreement=active, actor=provider_lead)
    client.force_login(provider_lead)
    html = client.get(active.get_absolute_url()).content.decode()
    assert shown_actions(html) == {"retire"}
    # The history lists both versions, with a link to compare.
    assert 'data-testid="action-compare"' in html
    assert "v2" in html


def test_version_history_lists_visible_versions_with_dates_and_summaries(
    client, provider_lead, outsider, active
):
    draft = services.agreement_amend(agreement=active, actor=provider_lead)
    services.agreement_update_draft(
        agreement=draft, actor=provider_lead, change_summary="Tighter P1 resolve target"
    )
    client.force_login(provider_lead)
    response = client.get(active.get_absolute_url())
    assert [v.version for v in response.context["versions"]] == [2, 1]
    assert "Tighter P1 resolve target" in response.content.decode()
    # Someone outside both teams does not see the draft in the history.
    client.force_login(outsider)
    response = client.get(active.get_absolute_url())
    assert [v.version for v in response.context["versions"]] == [1]
    assert 'data-testid="action-compare"' not in response.content.decode()


def test_current_and_upcoming_exception_windows_are_shown(
    client, provider_member, requester, active
):
    now = timezone.now()
    for start, end, reason, status in [
        (now - timedelta(hours=1), now + timedelta(hours=2), "Datacenter move", "approved"),
        (now + timedelta(days=3), now + timedelta(days=4), "Launch week", "requested"),
        (now - timedelta(days=3), now - timedelta(days=2), "Old outage", "approved"),
        (now + timedelta(days=5), now + timedelta(days=6), "Refused", "rejected"),
    ]:
        ExceptionWindow.objects.create(
            provider_team=active.provider_team,
            start=start,
            end=end,
            reason=reason,
            status=status,
            requested_by=provider_member,
        )
    client.force_login(requester)
    html = client.get(active.get_absolute_url()).content.decode()
    section = re.search(r'data-testid="exception-windows".*?</section>', html, re.S).group(0)
    assert "Datacenter move" in section and "Launch week" in section
    assert "Old outage" not in section and "Refused" not in section


def test_drafts_of_other_teams_are_not_found(client, outsider, provider_lead, active):
    draft = services.agreement_amend(agreement=active, actor=provider_lead)
    client.force_login(outsider)
    assert client.get(draft.get_absolute_url()).status_code == 404
    assert client.get(active.get_absolute_url()).status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(client, active):
    response = client.get(active.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_retired_version_keeps_its_page(client, provider_lead, outsider, active):
    services.agreement_retire(agreement=active, actor=provider_lead, reason="Merged")
    client.force_login(outsider)
    response = client.get(active.get_absolute_url())
    assert response.status_code == 200
    assert Agreement.objects.get(pk=active.pk).status == Status.RETIRED
    assert "Retired" in response.content.decode()
