import pytest
from rest_framework.test import APIClient

from apps.notifications.models import Notification
from tests.notifications.conftest import send

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_the_api_lists_only_my_in_app_notifications(api, alice, bob):
    send("a", recipients=[alice])
    send("b", recipients=[bob])
    api.force_authenticate(alice)
    body = api.get("/api/notifications/").json()
    assert body["count"] == 1
    assert body["results"][0]["url"] == "https://ola.example.com/handoffs/7/"


def test_the_api_marks_one_and_all_read(api, alice):
    (first, *_) = send("a", recipients=[alice])
    # About another handoff: two entries (the same handoff's would read as one).
    send("b", recipients=[alice], subject_id=8)
    api.force_authenticate(alice)

    response = api.post(f"/api/notifications/{first.pk}/read/")
    assert response.status_code == 200 and response.json()["read_at"]
    assert api.get("/api/notifications/?unread=true").json()["count"] == 1

    assert api.post("/api/notifications/read-all/").json() == {"marked": 1}
    assert not Notification.objects.filter(recipient=alice, channel="in_app", read_at=None)


def test_someone_elses_notification_is_a_404(api, alice, bob):
    (row, *_) = send(recipients=[bob])
    api.force_authenticate(alice)
    assert api.post(f"/api/notifications/{row.pk}/read/").status_code == 404


def test_the_format_is_a_query_parameter_and_a_json_suffix_is_no_route(api, alice):
    # The router has no `.json` twin of each route any more (there, an action that did not
    # take a `format` argument answered 500): `?format=json` chooses the format.
    (row, *_) = send("a", recipients=[alice])
    api.force_authenticate(alice)
    assert api.post(f"/api/notifications/{row.pk}/read.json").status_code == 404
    assert api.post("/api/notifications/read-all.json").status_code == 404
    response = api.post(f"/api/notifications/{row.pk}/read/?format=json")
    assert response.status_code == 200 and response.json()["read_at"]
    assert api.post("/api/notifications/read-all/?format=json").json() == {"marked": 0}
