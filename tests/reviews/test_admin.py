"""The reviews admin: staff read reviews (pack, recommendations, sign-offs), breach reviews
and action items; nothing is added, changed or deleted by hand."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib import admin as django_admin
from django.urls import reverse

from apps.reviews import services
from apps.reviews.models import ActionItem, BreachReview, QuarterlyReview, RootCause
from tests.helpers import MONDAY_10

from .conftest import REVIEW_DAY

pytestmark = pytest.mark.django_db

MODELS = ("quarterlyreview", "breachreview", "actionitem")


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def signed_review(started_review, provider_lead, requester_lead):
    with time_machine.travel(REVIEW_DAY, tick=False):
        services.review_update(
            review=started_review,
            actor=provider_lead,
            findings="Quiet quarter",
            proposed_targets={"P2": {"resolve": 60 * 3600}},
            now=REVIEW_DAY,
        )
        services.review_sign_off(review=started_review, actor=provider_lead, now=REVIEW_DAY)
        services.review_sign_off(review=started_review, actor=requester_lead, now=REVIEW_DAY)
    started_review.refresh_from_db()
    return started_review


@pytest.fixture
def breach_review(breached_clock, provider_member):
    return services.breach_review_save(
        clock=breached_clock(),
        actor=provider_member,
        root_cause=RootCause.SYSTEMS,
        what_happened="The pager integration was down.",
        now=MONDAY_10 + timedelta(days=1),
    )


@pytest.fixture
def items(signed_review, breach_review, provider_lead, provider_member, requester):
    return [
        services.action_item_create(
            actor=provider_lead,
            title="Publish the new P2 target to Support",
            owner=requester,
            due_date=REVIEW_DAY.date() + timedelta(days=7),
            review=signed_review,
            now=REVIEW_DAY,
        ),
        services.action_item_create(
            actor=provider_member,
            title="Monitor the pager integration",
            owner=provider_member,
            due_date=REVIEW_DAY.date() + timedelta(days=7),
            breach_review=breach_review,
            now=REVIEW_DAY,
        ),
    ]


def url(name, *args):
    return reverse(f"admin:reviews_{name}", args=args)


def test_staff_read_a_review_with_its_pack_recommendations_and_sign_offs(
    admin_client, signed_review, items, provider_lead, requester_lead
):
    response = admin_client.get(url("quarterlyreview_change", signed_review.pk))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Quiet quarter" in content
    assert "&quot;p80&quot;" in content  # the frozen pack, shown as JSON
    assert "&quot;basis&quot;" in content  # the recommendations
    # The sign-offs, inline.
    assert str(provider_lead) in content and str(requester_lead) in content
    assert "Publish the new P2 target to Support" in content  # its action items


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status__exact": "completed"},
        {"q": "Engineering"},
        {"due_date__year": "2026"},
        {"series__provider_team__id__exact": "1"},
    ],
)
def test_the_review_changelist_filters_and_searches(admin_client, signed_review, query):
    response = admin_client.get(url("quarterlyreview_changelist"), query)
    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_every_list_and_page_loads(admin_client, items, model):
    assert admin_client.get(url(f"{model}_changelist")).status_code == 200
    obj = {
        "quarterlyreview": QuarterlyReview,
        "breachreview": BreachReview,
        "actionitem": ActionItem,
    }[model].objects.first()
    assert admin_client.get(url(f"{model}_change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_nothing_is_added_or_deleted_in_the_admin(admin_client, items, model):
    cls = {
        "quarterlyreview": QuarterlyReview,
        "breachreview": BreachReview,
        "actionitem": ActionItem,
    }[model]
    obj = cls.objects.first()
    assert admin_client.get(url(f"{model}_add")).status_code == 403
    assert admin_client.post(url(f"{model}_delete", obj.pk), {"post": "yes"}).status_code == 403
    response = admin_client.post(
        url(f"{model}_changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert cls.objects.filter(pk=obj.pk).exists()
    model_admin = django_admin.site._registry[cls]
    request = response.wsgi_request
    assert not model_admin.has_delete_permission(request, obj)
    assert "delete_selected" not in model_admin.get_actions(request)


def test_a_review_is_not_changed_by_hand(admin_client, signed_review):
    response = admin_client.post(
        url("quarterlyreview_change", signed_review.pk),
        {"findings": "rewritten", "status": "in_progress"},
    )
    assert response.status_code == 403
    signed_review.refresh_from_db()
    assert (signed_review.findings, signed_review.status) == ("Quiet quarter", "completed")


def test_an_action_item_is_not_ticked_off_by_hand(admin_client, items):
    item = items[0]
    response = admin_client.post(url("actionitem_change", item.pk), {"done_at": "2026-03-26"})
    assert response.status_code == 403
    item.refresh_from_db()
    assert item.done_at is None


@pytest.mark.parametrize("model", MODELS)
def test_changelists_cost_the_same_whatever_their_length(
    admin_client,
    items,
    model,
    signed_review,
    provider_lead,
    requester,
    django_assert_max_num_queries,
):
    def count():
        with django_assert_max_num_queries(30) as captured:
            assert admin_client.get(url(f"{model}_changelist")).status_code == 200
        return len(captured.captured_queries)

    few = count()
    for i in range(5):
        services.action_item_create(
            actor=provider_lead,
            title=f"Item {i}",
            owner=requester,
            due_date=REVIEW_DAY.date() + timedelta(days=10),
            review=signed_review,
            now=REVIEW_DAY,
        )
        QuarterlyReview.objects.create(
            series=signed_review.series,
            agreement=signed_review.agreement,
            period_start=signed_review.period_start.replace(year=2020 + i),
            period_end=signed_review.period_end.replace(year=2020 + i),
            due_date=signed_review.due_date.replace(year=2020 + i),
        )
    assert count() == few
