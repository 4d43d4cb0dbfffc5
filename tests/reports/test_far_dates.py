"""Far dates on the report page, its CSV and the API: a field error or a 400 with the
range in words, never a 500 (issue 11)."""

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from apps.core import limits

from .test_reports_page import TODAY

pytestmark = pytest.mark.django_db

FAR = ["0001-01-01", "1999-12-31", "2100-01-01", "9999-12-31"]


@pytest.mark.parametrize("field", ["from", "to"])
@pytest.mark.parametrize("day", FAR)
def test_a_far_date_is_a_field_error_on_the_page(client, provider_lead, field, day):
    client.force_login(provider_lead)
    with time_machine.travel(TODAY, tick=False):
        response = client.get(reverse("reports:index"), {field: day})
        csv = client.get(reverse("reports:compliance-csv"), {field: day})
    assert response.status_code == 400
    assert response.context["form"].errors[field] == [limits.date_range_message()]
    assert csv.status_code == 400


@pytest.mark.parametrize("field", ["from", "to"])
@pytest.mark.parametrize("day", [*FAR, "10000-01-01"])
def test_a_far_date_is_a_400_on_the_api(provider_lead, field, day):
    client = APIClient()
    client.force_authenticate(provider_lead)
    with time_machine.travel(TODAY, tick=False):
        response = client.get("/api/reports/compliance/", {field: day})
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_a_report_covers_at_most_five_years(client, provider_lead):
    client.force_login(provider_lead)
    with time_machine.travel(TODAY, tick=False):
        response = client.get(reverse("reports:index"), {"from": "2000-01-01", "to": "2026-01-01"})
    assert response.status_code == 400
    assert f"at most {limits.REPORT_DAYS_MAX} days" in response.context["form"].errors["to"][0]
