"""Far dates and far targets on the review pages and API: a field error or a 400 with the
range in words, never a 500, and nothing written (issue 11)."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from apps.core import limits
from apps.reviews import services
from apps.reviews.models import ActionItem
from tests.helpers import client_for

from .conftest import REVIEW_DAY

pytestmark = pytest.mark.django_db

FAR = ["0001-01-01", "1999-12-31", "2100-01-01", "9999-12-31"]


def page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("day", FAR)
def test_a_far_due_date_is_a_field_error_on_the_review_page(review, provider_lead, requester, day):
    response = page(provider_lead).post(
        reverse("reviews:action_add", kwargs={"pk": review.pk}),
        {"title": "Write a runbook", "owner": requester.pk, "due_date": day},
    )
    assert response.status_code == 400
    assert response.context["action_form"].errors["due_date"] == [limits.date_range_message()]
    assert not ActionItem.objects.exists()


@pytest.mark.parametrize("day", FAR)
def test_a_far_due_date_is_a_400_on_the_api(review, provider_lead, requester, day):
    response = client_for(provider_lead).post(
        "/api/action-items/",
        {"review": review.pk, "title": "Write a runbook", "owner": requester.pk, "due_date": day},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert response.json()["due_date"] == [limits.date_range_message()]
    assert not ActionItem.objects.exists()


def test_a_date_beyond_the_calendar_is_a_400_not_a_500(review, provider_lead, requester):
    body = {
        "review": review.pk,
        "title": "Runbook",
        "owner": requester.pk,
        "due_date": "10000-01-01",
    }
    assert (
        client_for(provider_lead).post("/api/action-items/", body, format="json").status_code == 400
    )


def test_the_service_refuses_a_far_due_date_whoever_calls(review, provider_lead, requester):
    with pytest.raises(ValidationError) as excinfo:
        services.action_item_create(
            actor=provider_lead,
            title="Write a runbook",
            owner=requester,
            due_date=date(9999, 12, 31),
            review=review,
            now=REVIEW_DAY,
        )
    assert excinfo.value.message_dict["due_date"] == [limits.date_range_message()]


def test_a_proposed_target_beyond_ten_years_is_a_400(started_review, provider_lead):
    response = client_for(provider_lead).patch(
        f"/api/reviews/{started_review.pk}/",
        {"proposed_targets": {"P2": {"resolve": 99_999_999_999}}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "ten years" in response.json()["proposed_targets"]["P2"]["resolve"][0]
