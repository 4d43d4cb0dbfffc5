"""The agreements admin: staff read everything, edit only drafts (through the service's
rules), run lifecycle steps as actions, and never delete."""

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.agreements import services
from apps.agreements.models import Agreement, ExceptionWindow, Status
from tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def active(provider_team, requesting_team):
    return AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team
    )


@pytest.fixture
def draft(provider_team, requesting_team):
    return AgreementFactory(
        series__provider_team=provider_team,
        series__requesting_team=requesting_team,
        status=Status.DRAFT,
        title="Draft terms",
    )


def change_url(agreement):
    return reverse("admin:agreements_agreement_change", args=[agreement.pk])


def changelist_url():
    return reverse("admin:agreements_agreement_changelist")


def _value(value):
    if value is None:
        return ""
    if isinstance(value, list):
        return json.dumps(value)
    if hasattr(value, "pk"):
        return value.pk
    return value


def _rows(prefix, rows, fields, agreement):
    data = {
        f"{prefix}-TOTAL_FORMS": len(rows),
        f"{prefix}-INITIAL_FORMS": sum(1 for r in rows if r.get("id")),
        f"{prefix}-MIN_NUM_FORMS": 0,
        f"{prefix}-MAX_NUM_FORMS": 1000,
    }
    for i, row in enumerate(rows):
        data[f"{prefix}-{i}-id"] = row.get("id", "")
        data[f"{prefix}-{i}-agreement"] = agreement.pk
        for name in fields:
            value = row.get(name)
            if value is True:
                data[f"{prefix}-{i}-{name}"] = "on"
            elif value is not False:
                data[f"{prefix}-{i}-{name}"] = _value(value)
        if row.get("DELETE"):
            data[f"{prefix}-{i}-DELETE"] = "on"
    return data


def form_data(agreement, *, targets=None, triage=None, steps=None, **fields):
    """The change form as a browser would post it, from the stored draft plus changes."""

    def stored(queryset, names):
        return [{"id": obj.pk, **{n: getattr(obj, n) for n in names}} for obj in queryset]

    values = {name: getattr(agreement, name) for name in services.AGREEMENT_FIELDS}
    values.update(fields)
    data = {name: _value(value) for name, value in values.items()}
    targets = (
        targets if targets is not None else stored(agreement.targets.all(), services.TARGET_FIELDS)
    )
    triage = (
        triage
        if triage is not None
        else stored(agreement.triage_fields.all(), services.TRIAGE_FIELDS)
    )
    steps = (
        steps
        if steps is not None
        else stored(agreement.escalation_steps.all(), services.STEP_FIELDS)
    )
    data.update(_rows("targets", targets, services.TARGET_FIELDS, agreement))
    data.update(_rows("triage_fields", triage, services.TRIAGE_FIELDS, agreement))
    data.update(_rows("escalation_steps", steps, services.STEP_FIELDS, agreement))
    data.update(_rows("approvals", [], (), agreement))
    return data


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- reading --------------------------------------------------------------------------------


def test_staff_load_the_changelist(admin_client, active, draft, django_assert_max_num_queries):
    for i in range(10):
        AgreementFactory(title=f"Other {i}")
    response = admin_client.get(changelist_url())
    assert response.status_code == 200
    assert "Draft terms" in response.content.decode()
    with django_assert_max_num_queries(15):
        assert admin_client.get(changelist_url() + "?status__exact=active").status_code == 200


def test_the_changelist_searches_and_filters(admin_client, active, draft):
    assert admin_client.get(changelist_url() + "?q=Draft").status_code == 200
    assert admin_client.get(changelist_url() + "?status__exact=draft&kind__exact=escalation")


def test_a_draft_change_page_has_inputs_for_its_fields_and_parts(admin_client, draft):
    response = admin_client.get(change_url(draft))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="title"' in html
    assert 'name="targets-0-resolve_seconds"' in html
    assert 'name="escalation_steps-0-percent"' in html
    assert 'name="_save"' in html
    assert 'name="status"' not in html  # lifecycle fields only change through services


def test_a_non_draft_change_page_is_read_only(admin_client, active):
    response = admin_client.get(change_url(active))
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("title", "kind", "warning_threshold", "calendar", "playbook"):
        assert f'name="{name}"' not in html, name
    assert 'name="targets-0-resolve_seconds"' not in html
    assert 'name="triage_fields-0-key"' not in html
    assert 'name="_save"' not in html
    assert active.title in html


def test_a_non_draft_cannot_be_changed_by_posting_anyway(admin_client, active):
    response = admin_client.post(change_url(active), form_data(active, title="Sneaky"))
    assert response.status_code == 403
    active.refresh_from_db()
    assert active.title != "Sneaky"


def test_history_is_shown_but_cannot_be_reverted(admin_client, draft, staff):
    services.agreement_update_draft(agreement=draft, actor=staff, title="Renamed")
    history_url = reverse("admin:agreements_agreement_history", args=[draft.pk])
    assert admin_client.get(history_url).status_code == 200
    record = draft.history.order_by("history_id").first()
    revert_url = reverse(
        "admin:agreements_agreement_simple_history", args=[draft.pk, record.history_id]
    )
    assert admin_client.get(revert_url).status_code == 200
    assert admin_client.post(revert_url, {"title": "Old"}).status_code == 403
    draft.refresh_from_db()
    assert draft.title == "Renamed"


# --- nothing is added or deleted here ---------------------------------------------------------


def test_agreements_are_never_deleted_in_the_admin(admin_client, active, draft):
    for agreement in (active, draft):
        url = reverse("admin:agreements_agreement_delete", args=[agreement.pk])
        assert admin_client.get(url).status_code == 403
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert 'value="delete_selected"' not in admin_client.get(changelist_url()).content.decode()
    admin_client.post(
        changelist_url(),
        {"action": "delete_selected", "_selected_action": [draft.pk], "post": "yes"},
    )
    assert Agreement.objects.count() == 2


def test_agreements_are_not_added_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:agreements_agreement_add")).status_code == 403


# --- editing a draft goes through the service --------------------------------------------


def test_staff_edit_a_draft_and_its_parts(admin_client, draft, staff):
    targets = [
        {"id": t.pk, **{n: getattr(t, n) for n in services.TARGET_FIELDS}}
        for t in draft.targets.all()
    ]
    targets[0]["resolve_seconds"] = 6 * 3600
    targets[3]["DELETE"] = True
    steps = [
        {"id": s.pk, **{n: getattr(s, n) for n in services.STEP_FIELDS}}
        for s in draft.escalation_steps.all()
    ]
    steps.append({"metric": "acknowledge", "percent": 150, "notify": "both_leads"})
    response = admin_client.post(
        change_url(draft), form_data(draft, title="Tighter P1", targets=targets, steps=steps)
    )
    assert response.status_code == 302, response.context and response.context["errors"]
    draft.refresh_from_db()
    assert draft.title == "Tighter P1"
    assert [t.priority for t in draft.targets.all()] == ["P1", "P2", "P3"]
    assert draft.target_for("P1").resolve_seconds == 6 * 3600
    assert draft.escalation_steps.count() == 3
    assert draft.history.first().history_user == staff


def test_tiers_may_swap_priorities_in_one_save(admin_client, draft):
    targets = [
        {"id": t.pk, **{n: getattr(t, n) for n in services.TARGET_FIELDS}}
        for t in draft.targets.all()
    ]
    targets[2]["priority"], targets[3]["priority"] = "P4", "P3"
    targets[2]["impact"] = "was P3"
    response = admin_client.post(change_url(draft), form_data(draft, targets=targets))
    assert response.status_code == 302
    assert draft.target_for("P4").impact == "was P3"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda t: t[0].update(resolve_seconds=60), "Must not be shorter"),
        (lambda t: t[1].update(priority="P1"), "P1 is already defined"),
        (
            lambda t: t[3].update(acknowledge_seconds=None),
            "at least one target",
        ),
    ],
)
def test_a_draft_edit_breaking_a_target_rule_is_refused_on_the_field(
    admin_client, draft, change, error
):
    targets = [
        {"id": t.pk, **{n: getattr(t, n) for n in services.TARGET_FIELDS}}
        for t in draft.targets.all()
    ]
    change(targets)
    response = admin_client.post(change_url(draft), form_data(draft, targets=targets))
    assert response.status_code == 200
    assert error in response.content.decode()
    draft.refresh_from_db()
    assert draft.target_for("P1").resolve_seconds == 8 * 3600


@pytest.mark.parametrize(
    ("index", "changes", "error"),
    [
        (0, {"key": "Bad Key"}, "lowercase letters"),
        (1, {"key": "steps"}, "already uses the key"),
        (1, {"choices": []}, "needs choices"),
        (2, {"pattern": "(oops"}, "Not a valid regular expression"),
    ],
)
def test_a_draft_edit_breaking_a_triage_rule_is_refused(admin_client, draft, index, changes, error):
    triage = [
        {"id": f.pk, **{n: getattr(f, n) for n in services.TRIAGE_FIELDS}}
        for f in draft.triage_fields.all()
    ]
    triage[index].update(changes)
    response = admin_client.post(change_url(draft), form_data(draft, triage=triage))
    assert response.status_code == 200
    assert error in response.content.decode()


def test_choices_that_are_not_a_list_are_a_form_error_not_a_500(admin_client, draft):
    data = form_data(draft)
    data["triage_fields-1-choices"] = "5"
    response = admin_client.post(change_url(draft), data)
    assert response.status_code == 200
    assert "JSON list" in response.content.decode()


def test_a_step_naming_nobody_is_refused(admin_client, draft):
    steps = [{"metric": "resolve", "percent": 50, "notify": "user"}]
    response = admin_client.post(change_url(draft), form_data(draft, steps=steps))
    assert response.status_code == 200
    assert "Name the person to notify" in response.content.decode()
    assert draft.escalation_steps.count() == 2


def test_the_version_fields_follow_the_service_rules(admin_client, draft):
    response = admin_client.post(change_url(draft), form_data(draft, warning_threshold=100))
    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.warning_threshold == 75


# --- lifecycle actions --------------------------------------------------------------------


def test_the_submit_action_submits_drafts_and_explains_refusals(admin_client, draft, active):
    response = admin_client.post(
        changelist_url(),
        {"action": "submit_versions", "_selected_action": [draft.pk, active.pk]},
        follow=True,
    )
    assert response.status_code == 200
    texts = messages_of(response)
    assert "1 version(s) submitted." in texts
    assert any("Only a draft can be submitted" in t for t in texts)
    draft.refresh_from_db()
    active.refresh_from_db()
    assert (draft.status, active.status) == (Status.IN_REVIEW, Status.ACTIVE)


def test_submitting_a_draft_without_targets_is_a_message(admin_client, provider_team):
    empty = AgreementFactory(series__provider_team=provider_team, status="draft", parts=False)
    response = admin_client.post(
        changelist_url(), {"action": "submit_versions", "_selected_action": [empty.pk]}, follow=True
    )
    assert response.status_code == 200
    assert any("at least one priority tier" in t for t in messages_of(response))


def test_the_retire_action(admin_client, active):
    response = admin_client.post(
        changelist_url(), {"action": "retire_versions", "_selected_action": [active.pk]}
    )
    assert response.status_code == 302
    active.refresh_from_db()
    assert active.status == Status.RETIRED
    response = admin_client.post(
        changelist_url(),
        {"action": "retire_versions", "_selected_action": [active.pk]},
        follow=True,
    )
    assert any("already retired" in t for t in messages_of(response))


# --- series and windows -------------------------------------------------------------------


def test_series_are_a_read_only_list(admin_client, active):
    assert (
        admin_client.get(reverse("admin:agreements_agreementseries_changelist")).status_code == 200
    )
    url = reverse("admin:agreements_agreementseries_change", args=[active.series_id])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert admin_client.get(reverse("admin:agreements_agreementseries_add")).status_code == 403
    delete = reverse("admin:agreements_agreementseries_delete", args=[active.series_id])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403


@pytest.fixture
def window(provider_team, provider_member):
    from datetime import timedelta

    from django.utils import timezone

    return services.exception_window_request(
        actor=provider_member,
        provider_team=provider_team,
        start=timezone.now(),
        end=timezone.now() + timedelta(hours=3),
        reason="Database upgrade",
        affected_customers="None: internal tooling only.",
        communication_plan="The lead tells Support at stand-up.",
    )


def test_staff_approve_and_reject_windows_with_actions(admin_client, window, provider_team):
    url = reverse("admin:agreements_exceptionwindow_changelist")
    assert admin_client.get(url).status_code == 200
    change = reverse("admin:agreements_exceptionwindow_change", args=[window.pk])
    assert admin_client.get(change).status_code == 200

    response = admin_client.post(
        url, {"action": "approve_windows", "_selected_action": [window.pk]}, follow=True
    )
    assert "1 window(s) approved." in messages_of(response)
    window.refresh_from_db()
    assert window.status == ExceptionWindow.Status.APPROVED

    response = admin_client.post(
        url, {"action": "reject_windows", "_selected_action": [window.pk]}, follow=True
    )
    assert response.status_code == 200
    assert any("already approved" in t for t in messages_of(response))


def test_windows_are_never_deleted_in_the_admin(admin_client, window):
    url = reverse("admin:agreements_exceptionwindow_delete", args=[window.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert ExceptionWindow.objects.filter(pk=window.pk).exists()


def test_the_admin_is_for_staff_only(client, provider_lead, draft):
    client.force_login(provider_lead)
    response = client.get(change_url(draft))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# --- added: raising ladders, ending windows ---------------------------------------------------


def test_deleting_the_tier_a_raise_needs_is_refused_on_the_step(admin_client, draft):
    # The draft's ladder raises at 100 %; dropping P1 and P2 in the same save leaves a P3
    # with nowhere to go.
    targets = [
        {"id": t.pk, **{n: getattr(t, n) for n in services.TARGET_FIELDS}}
        for t in draft.targets.all()
    ]
    for row in targets[:2]:
        row["DELETE"] = True
    response = admin_client.post(change_url(draft), form_data(draft, targets=targets))
    assert response.status_code == 200
    assert "Raising the priority needs P2 defined" in response.content.decode()
    assert draft.targets.count() == 4


def test_removing_the_raise_with_the_tiers_is_accepted(admin_client, draft):
    targets = [
        {"id": t.pk, **{n: getattr(t, n) for n in services.TARGET_FIELDS}}
        for t in draft.targets.all()
    ]
    for row in targets[:2]:
        row["DELETE"] = True
    steps = [
        {"id": s.pk, **{n: getattr(s, n) for n in services.STEP_FIELDS}, "raise_priority": False}
        for s in draft.escalation_steps.all()
    ]
    response = admin_client.post(change_url(draft), form_data(draft, targets=targets, steps=steps))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert [t.priority for t in draft.targets.all()] == ["P3", "P4"]


def test_staff_end_windows_with_an_action(admin_client, window, provider_lead):
    services.exception_window_approve(window=window, actor=provider_lead)
    url = reverse("admin:agreements_exceptionwindow_changelist")
    response = admin_client.post(
        url, {"action": "end_windows", "_selected_action": [window.pk]}, follow=True
    )
    assert "1 window(s) ended or cancelled." in messages_of(response)
    window.refresh_from_db()
    assert window.ended_at is not None and window.end_note == "Ended in the admin."
    response = admin_client.post(
        url, {"action": "end_windows", "_selected_action": [window.pk]}, follow=True
    )
    assert any("already ended" in t or "cancelled" in t for t in messages_of(response))
    change = reverse("admin:agreements_exceptionwindow_change", args=[window.pk])
    page = admin_client.get(change).content.decode()
    assert "None: internal tooling only." in page
