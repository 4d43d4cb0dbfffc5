"""The draft editor: a main form and three formsets, errors back on the field they concern."""

import pytest
from django.urls import reverse

from apps.agreements import services
from apps.agreements.models import Agreement, Status
from tests.factories import standard_steps, standard_targets, standard_triage

pytestmark = pytest.mark.django_db

MAIN_FIELDS = {
    "title": "Support → Engineering escalations",
    "kind": "escalation",
    "service_description": "Engineering fixes product defects Support cannot solve.",
    "scope_included": "Product defects",
    "scope_excluded": "Feature requests",
    "customer_sla": "Enterprise: first response in 1 h",
    "calendar": "",
    "warning_threshold": "75",
    "initial_response_by": "provider_team",
    "triage_by": "provider_team",
    "updates_by": "provider_team",
    "resolution_validated_by": "requesting_team",
    "review_cadence_months": "3",
    "next_review_date": "",
    "playbook": "Call the on-call engineer for P1.",
    "waiting_auto_close_days": "7",
    "confirmation_days": "5",
    "change_summary": "First version",
}

TIERS = [
    {
        "priority": "P1",
        "impact": "Outage",
        "acknowledge_seconds": "30m",
        "action_plan_seconds": "2h",
        "resolve_seconds": "8h",
        "around_the_clock": "on",
        "pause_action_plan": "on",
        "pause_resolve": "on",
    },
    {
        "priority": "P2",
        "impact": "Broken",
        "acknowledge_seconds": "2h",
        "action_plan_seconds": "24h",
        "resolve_seconds": "72h",
        "pause_action_plan": "on",
        "pause_resolve": "on",
    },
    {
        "priority": "P3",
        "impact": "Workaround",
        "acknowledge_seconds": "8h",
        "action_plan_seconds": "",
        "resolve_seconds": "80h",
        "pause_resolve": "on",
    },
    {
        "priority": "P4",
        "impact": "Question",
        "acknowledge_seconds": "1h30m",
        "action_plan_seconds": "",
        "resolve_seconds": "",
    },
]

TRIAGE = [
    {"key": "steps", "label": "Steps to reproduce", "kind": "long_text", "required": "on"},
    {
        "key": "environment",
        "label": "Environment",
        "kind": "choice",
        "choices": "production\nstaging\n",
        "required": "on",
    },
    {"key": "ticket", "label": "Ticket number", "kind": "text", "pattern": r"ZD-\d+"},
]

STEPS = [
    {"metric": "resolve", "percent": "75", "notify": "assignee"},
    {"metric": "resolve", "percent": "100", "notify": "provider_lead", "raise_priority": "on"},
]


def formset_data(prefix: str, rows: list[dict], *, extra: int = 1) -> dict:
    """Management form plus rows, as the page posts them: the given rows are the prefilled
    (initial) forms, followed by `extra` untouched blank forms."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows) + extra),
        f"{prefix}-INITIAL_FORMS": str(len(rows)),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "50",
    }
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"{prefix}-{index}-{name}"] = value
    for index in range(len(rows), len(rows) + extra):
        # Untouched blank forms still post their defaults (select values, checkboxes).
        if prefix == "targets":
            data[f"{prefix}-{index}-pause_action_plan"] = "on"
            data[f"{prefix}-{index}-pause_resolve"] = "on"
        elif prefix == "triage_fields":
            data[f"{prefix}-{index}-kind"] = "text"
            data[f"{prefix}-{index}-required"] = "on"
        elif prefix == "steps":
            data[f"{prefix}-{index}-notify"] = "assignee"
    return data


def editor_data(*, teams=None, targets=TIERS, triage=TRIAGE, steps=STEPS, **fields) -> dict:
    data = {**MAIN_FIELDS, **fields}
    if teams:
        data["provider_team"], data["requesting_team"] = (str(t.pk) for t in teams)
    data.update(formset_data("targets", targets))
    data.update(formset_data("triage_fields", triage, extra=2))
    data.update(formset_data("steps", steps, extra=2))
    return data


def with_row(rows: list[dict], index: int, **changes) -> list[dict]:
    rows = [dict(row) for row in rows]
    rows[index].update(changes)
    return rows


@pytest.fixture
def draft(provider_lead, provider_team, requesting_team):
    return services.agreement_create_draft(
        actor=provider_lead,
        provider_team=provider_team,
        requesting_team=requesting_team,
        title="Escalations",
        targets=standard_targets(),
        triage_fields=standard_triage(),
        steps=standard_steps(),
    )


def test_new_page_starts_with_four_tiers_and_the_default_triage_template(
    client, requester_lead, requesting_team
):
    client.force_login(requester_lead)
    response = client.get(reverse("agreements:new"))
    assert response.status_code == 200
    targets = response.context["targets_formset"]
    assert [f.initial["priority"] for f in targets.forms] == ["P1", "P2", "P3", "P4"]
    assert targets.forms[0].initial["impact"].startswith("Data loss")
    keys = [f.initial["key"] for f in response.context["triage_formset"].initial_forms]
    assert keys == [
        "steps_to_reproduce",
        "expected_vs_actual",
        "environment",
        "logs",
        "impacted_customers",
    ]
    # Blank rows to add a triage field or a step without any script.
    assert len(response.context["triage_formset"].extra_forms) == 2
    # The requesting team the lead leads is preselected.
    assert response.context["team_form"].initial["requesting_team"] == requesting_team.pk


def test_lead_creates_a_draft_with_four_tiers_and_a_triage_template(
    client, requester_lead, provider_team, requesting_team
):
    client.force_login(requester_lead)
    response = client.post(
        reverse("agreements:new"), editor_data(teams=(provider_team, requesting_team))
    )
    agreement = Agreement.objects.get()
    assert response.status_code == 302
    assert response["Location"] == agreement.get_absolute_url()
    assert agreement.status == Status.DRAFT
    assert agreement.provider_team == provider_team
    assert agreement.requesting_team == requesting_team
    assert agreement.created_by == requester_lead
    # No calendar chosen: the provider team's own.
    assert agreement.calendar == provider_team.calendar
    targets = {t.priority: t for t in agreement.targets.all()}
    assert list(targets) == ["P1", "P2", "P3", "P4"]
    assert targets["P1"].acknowledge_seconds == 1800
    assert targets["P1"].around_the_clock is True
    assert targets["P3"].action_plan_seconds is None
    assert targets["P3"].pause_action_plan is False
    assert targets["P4"].acknowledge_seconds == 5400
    fields = list(agreement.triage_fields.all())
    assert [f.key for f in fields] == ["steps", "environment", "ticket"]
    assert fields[1].choices == ["production", "staging"]
    assert fields[2].required is False and fields[2].pattern == r"ZD-\d+"
    steps = list(agreement.escalation_steps.all())
    assert [(s.percent, s.raise_priority) for s in steps] == [(75, False), (100, True)]


def test_deleted_rows_are_left_out(client, requester_lead, provider_team, requesting_team):
    client.force_login(requester_lead)
    data = editor_data(
        teams=(provider_team, requesting_team),
        targets=with_row(TIERS, 3, DELETE="on", acknowledge_seconds="nonsense"),
        triage=with_row(TRIAGE, 0, DELETE="on"),
    )
    response = client.post(reverse("agreements:new"), data)
    assert response.status_code == 302
    agreement = Agreement.objects.get()
    assert [t.priority for t in agreement.targets.all()] == ["P1", "P2", "P3"]
    assert [f.key for f in agreement.triage_fields.all()] == ["environment", "ticket"]


def test_an_extra_row_filled_in_adds_a_triage_field(
    client, requester_lead, provider_team, requesting_team
):
    client.force_login(requester_lead)
    data = editor_data(teams=(provider_team, requesting_team))
    data.update(
        {
            "triage_fields-4-key": "customer_tier",
            "triage_fields-4-label": "Customer tier",
            "triage_fields-4-kind": "choice",
            "triage_fields-4-choices": "enterprise\nself-serve",
            "triage_fields-4-required": "on",
        }
    )
    assert client.post(reverse("agreements:new"), data).status_code == 302
    field = Agreement.objects.get().triage_fields.get(key="customer_tier")
    assert field.choices == ["enterprise", "self-serve"]


@pytest.mark.parametrize(
    ("part", "rows", "index", "field", "message"),
    [
        (
            "targets",
            with_row(TIERS, 1, acknowledge_seconds="30h"),
            1,
            "action_plan_seconds",
            "Must not be shorter",
        ),
        (
            "targets",
            with_row(TIERS, 2, resolve_seconds="2h"),
            2,
            "resolve_seconds",
            "Must not be shorter",
        ),
        (
            "targets",
            with_row(TIERS, 0, acknowledge_seconds="half an hour"),
            0,
            "acknowledge_seconds",
            "is not a duration",
        ),
        ("targets", with_row(TIERS, 3, priority="P1"), 3, "priority", "already defined"),
        (
            "targets",
            with_row(TIERS, 3, acknowledge_seconds=""),
            3,
            "acknowledge_seconds",
            "at least one target",
        ),
        ("triage_fields", with_row(TRIAGE, 2, key="steps"), 2, "key", "already uses the key"),
        ("triage_fields", with_row(TRIAGE, 1, choices=""), 1, "choices", "needs choices"),
        (
            "triage_fields",
            with_row(TRIAGE, 2, pattern="ZD-(\\d+"),
            2,
            "pattern",
            "Not a valid regular expression",
        ),
        ("triage_fields", with_row(TRIAGE, 0, key="Steps To"), 0, "key", "Use lowercase"),
        ("steps", with_row(STEPS, 1, percent="75"), 1, "percent", "already a step at 75"),
        ("steps", with_row(STEPS, 1, notify="user"), 1, "user", "Name the person"),
    ],
)
def test_errors_land_on_the_formset_field_and_keep_what_was_typed(
    client, requester_lead, provider_team, requesting_team, part, rows, index, field, message
):
    client.force_login(requester_lead)
    parts = {"targets": TIERS, "triage": TRIAGE, "steps": STEPS}
    parts[{"targets": "targets", "triage_fields": "triage", "steps": "steps"}[part]] = rows
    data = editor_data(teams=(provider_team, requesting_team), title="Typed title", **parts)
    response = client.post(reverse("agreements:new"), data)
    assert response.status_code == 200
    assert not Agreement.objects.exists()
    formset = response.context[
        {"targets": "targets_formset", "triage_fields": "triage_formset", "steps": "steps_formset"}[
            part
        ]
    ]
    errors = formset.forms[index].errors
    assert message in " ".join(errors.get(field, [])), errors
    # Only that form carries the error.
    assert [bool(f.errors) for f in formset.forms].count(True) == 1
    html = response.content.decode()
    assert 'value="Typed title"' in html
    for name, value in rows[index].items():
        if name not in ("choices", "DELETE") and value not in ("on", ""):
            assert f'name="{part}-{index}-{name}"' in html
            assert value in html


def test_service_index_maps_past_deleted_and_blank_forms(
    client, requester_lead, provider_team, requesting_team
):
    """The service numbers the triage fields it was sent; the page must count the same way
    when a deleted form sits in front of the faulty one."""
    client.force_login(requester_lead)
    rows = with_row(TRIAGE, 0, DELETE="on")
    rows = with_row(rows, 2, key="environment")  # duplicate of the (sent) first field
    response = client.post(
        reverse("agreements:new"),
        editor_data(teams=(provider_team, requesting_team), triage=rows),
    )
    assert response.status_code == 200
    forms = response.context["triage_formset"].forms
    assert "already uses the key" in str(forms[2].errors["key"])
    assert not forms[1].errors and not forms[0].errors


def test_main_form_errors_and_same_team_on_both_sides(client, requester_lead, requesting_team):
    client.force_login(requester_lead)
    response = client.post(
        reverse("agreements:new"),
        editor_data(teams=(requesting_team, requesting_team), title="", warning_threshold="120"),
    )
    assert response.status_code == 200
    assert "provider_team" in response.context["team_form"].errors
    assert "title" in response.context["form"].errors
    assert "warning_threshold" in response.context["form"].errors
    assert not Agreement.objects.exists()


def test_drafting_for_two_teams_one_does_not_lead_is_forbidden(
    client, requester_lead, provider_team, other_team
):
    client.force_login(requester_lead)
    response = client.post(
        reverse("agreements:new"), editor_data(teams=(provider_team, other_team))
    )
    assert response.status_code == 403
    assert not Agreement.objects.exists()


def test_the_new_page_is_for_leads_only(client, provider_member, requester, outsider):
    for user in (provider_member, requester, outsider):
        client.force_login(user)
        assert client.get(reverse("agreements:new")).status_code == 403


def test_edit_page_is_prefilled_with_the_draft(client, provider_lead, draft):
    client.force_login(provider_lead)
    response = client.get(reverse("agreements:edit", args=[draft.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="30m"' in html and 'value="8h"' in html
    assert "production\nstaging" in html
    assert response.context["targets_formset"].initial_form_count() == 4


def test_lead_edits_a_draft_replacing_its_parts(client, requester_lead, draft):
    client.force_login(requester_lead)
    data = editor_data(
        targets=TIERS[:2], triage=TRIAGE[:1], steps=[], title="Renamed", calendar=draft.calendar_id
    )
    response = client.post(reverse("agreements:edit", args=[draft.pk]), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.title == "Renamed"
    assert [t.priority for t in draft.targets.all()] == ["P1", "P2"]
    assert [f.key for f in draft.triage_fields.all()] == ["steps"]
    assert not draft.escalation_steps.exists()


def test_edit_errors_keep_the_stored_draft(client, provider_lead, draft):
    client.force_login(provider_lead)
    data = editor_data(
        targets=with_row(TIERS, 0, resolve_seconds="10m"), calendar=draft.calendar_id
    )
    response = client.post(reverse("agreements:edit", args=[draft.pk]), data)
    assert response.status_code == 200
    assert response.context["targets_formset"].forms[0].errors["resolve_seconds"]
    draft.refresh_from_db()
    assert draft.title == "Escalations"
    assert draft.targets.get(priority="P1").resolve_seconds == 8 * 3600


def test_only_drafts_can_be_edited(client, provider_lead, draft):
    services.agreement_submit(agreement=draft, actor=provider_lead)
    client.force_login(provider_lead)
    response = client.get(reverse("agreements:edit", args=[draft.pk]), follow=True)
    assert response.redirect_chain[-1][0] == draft.get_absolute_url()
    assert "only a draft can be edited" in response.content.decode()
    response = client.post(reverse("agreements:edit", args=[draft.pk]), editor_data())
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Status.IN_REVIEW and draft.title == "Escalations"


def test_members_cannot_edit_and_outsiders_do_not_see_the_draft(
    client, provider_member, outsider, draft
):
    client.force_login(provider_member)
    assert client.get(reverse("agreements:edit", args=[draft.pk])).status_code == 403
    response = client.post(reverse("agreements:edit", args=[draft.pk]), editor_data())
    assert response.status_code == 403
    client.force_login(outsider)
    assert client.get(reverse("agreements:edit", args=[draft.pk])).status_code == 404


def test_a_post_without_the_management_forms_is_refused_politely(
    client, requester_lead, provider_team, requesting_team
):
    client.force_login(requester_lead)
    response = client.post(
        reverse("agreements:new"),
        {**MAIN_FIELDS, "provider_team": provider_team.pk, "requesting_team": requesting_team.pk},
    )
    assert response.status_code == 200
    assert "ManagementForm data is missing" in str(
        response.context["targets_formset"].non_form_errors()
    )
    assert not Agreement.objects.exists()


def test_a_draft_with_fewer_tiers_offers_blank_rows_for_the_rest(client, provider_lead, draft):
    services.agreement_update_draft(
        agreement=draft, actor=provider_lead, targets=standard_targets()[:2]
    )
    client.force_login(provider_lead)
    response = client.get(reverse("agreements:edit", args=[draft.pk]))
    assert len(response.context["targets_formset"].forms) == 4
    assert len(response.context["targets_formset"].extra_forms) == 2
