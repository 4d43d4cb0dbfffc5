"""The handoffs admin: staff read everything, change nothing by hand, and cancel through the
service with its errors reported as messages."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.handoffs import services
from apps.handoffs.models import EventKind, Handoff, HandoffEvent, Status
from tests.helpers import MONDAY_10

pytestmark = pytest.mark.django_db

# session, user, teams for the filter, two counts, the page (teams and assignee joined),
# the date drill-down's range and its days
CHANGELIST_QUERIES = 8


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def handoff(file_handoff, provider_member):
    handoff = file_handoff("P2")
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    services.handoff_comment(
        handoff=handoff, actor=provider_member, comment="Looking", now=MONDAY_10
    )
    return handoff


def url(name, *args):
    return reverse(f"admin:handoffs_{name}", args=args)


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- reading ---------------------------------------------------------------------------------


def test_the_changelist_lists_handoffs_for_staff(admin_client, handoff):
    response = admin_client.get(url("handoff_changelist"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Checkout crashes" in content
    assert "Engineering" in content and "Support" in content


@pytest.mark.parametrize(
    "query",
    [
        {"q": "checkout"},
        {"q": "1"},
        {"q": "not-a-number 'quoted"},
        {"status__exact": "acknowledged"},
        {"priority__exact": "P2"},
        {"customer_segment__exact": "business"},
        {"created_at__year": "2026", "created_at__month": "3"},
        {"o": "8"},
    ],
)
def test_the_changelist_searches_filters_and_drills_down(admin_client, handoff, query):
    response = admin_client.get(url("handoff_changelist"), query)
    assert response.status_code == 200


def test_the_provider_team_filter(admin_client, handoff, provider_team, other_team):
    response = admin_client.get(
        url("handoff_changelist"), {"provider_team__id__exact": other_team.pk}
    )
    assert response.status_code == 200
    assert "0 handoffs" in response.content.decode()
    response = admin_client.get(
        url("handoff_changelist"), {"provider_team__id__exact": provider_team.pk}
    )
    assert "Checkout crashes" in response.content.decode()


@pytest.mark.parametrize("n", [2, 20])
def test_the_changelist_uses_a_constant_number_of_queries(
    n, admin_client, file_handoff, provider_member, django_assert_max_num_queries
):
    for i in range(n):
        handoff = file_handoff("P3", at=MONDAY_10 + timedelta(minutes=i))
        services.handoff_claim(handoff=handoff, actor=provider_member, now=MONDAY_10)
    with django_assert_max_num_queries(CHANGELIST_QUERIES):
        response = admin_client.get(url("handoff_changelist"))
    assert response.status_code == 200


def test_the_change_page_is_read_only_with_clocks_and_timeline(admin_client, handoff):
    response = admin_client.get(url("handoff_change", handoff.pk))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="_save"' not in content
    assert 'name="title"' not in content
    assert "Checkout crashes" in content
    clocks = content[content.index("Clocks") :]
    for metric in ("Acknowledge", "Action plan", "Resolve"):
        assert metric in clocks
    # The timeline, oldest first: created, the acknowledgement, then the comment.
    timeline = content[content.index("Timeline") :]
    assert timeline.index("Created") < timeline.index("Acknowledged") < timeline.index("Looking")


def test_posting_to_the_change_page_changes_nothing(admin_client, handoff):
    response = admin_client.post(
        url("handoff_change", handoff.pk), {"title": "Renamed", "status": "closed"}
    )
    assert response.status_code == 403
    handoff.refresh_from_db()
    assert (handoff.title, handoff.status) == ("Checkout crashes", Status.ACKNOWLEDGED)


def test_handoffs_cannot_be_added_or_deleted_in_the_admin(admin_client, handoff):
    assert admin_client.get(url("handoff_add")).status_code == 403
    assert admin_client.get(url("handoff_delete", handoff.pk)).status_code == 403
    assert admin_client.post(url("handoff_delete", handoff.pk), {"post": "yes"}).status_code == 403
    response = admin_client.get(url("handoff_changelist"))
    assert "delete_selected" not in response.content.decode()
    assert Handoff.objects.filter(pk=handoff.pk).exists()


def test_an_unknown_handoff_redirects_with_a_message(admin_client):
    response = admin_client.get(url("handoff_change", 999_999))
    assert response.status_code == 302


def test_people_who_are_not_staff_are_sent_to_sign_in(client, requester, handoff):
    client.force_login(requester)
    response = client.get(url("handoff_changelist"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# --- the cancel action ----------------------------------------------------------------------


def test_cancel_selected_goes_through_the_service(admin_client, handoff, file_handoff, staff):
    other = file_handoff("P4", at=MONDAY_10 + timedelta(minutes=5))
    response = admin_client.post(
        url("handoff_changelist"),
        {"action": "cancel_selected", "_selected_action": [handoff.pk, other.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Cancelled 2 handoff(s)." in messages_of(response)
    for h in (handoff, other):
        h.refresh_from_db()
        assert h.status == Status.CANCELLED
        event = h.events.get(kind=EventKind.CANCELLED)
        assert (event.actor, event.comment) == (staff, "Cancelled by an administrator")
        assert set(h.clocks.values_list("status", flat=True)) <= {"cancelled", "met", "breached"}


def test_cancel_selected_reports_what_it_could_not_cancel(
    admin_client, handoff, file_handoff, provider_member
):
    done = file_handoff("P3", at=MONDAY_10 + timedelta(minutes=5))
    services.handoff_start(handoff=done, actor=provider_member, now=MONDAY_10)
    services.handoff_resolve(handoff=done, actor=provider_member, resolution="ok", now=MONDAY_10)
    response = admin_client.post(
        url("handoff_changelist"),
        {"action": "cancel_selected", "_selected_action": [handoff.pk, done.pk]},
        follow=True,
    )
    assert response.status_code == 200
    shown = messages_of(response)
    assert "Cancelled 1 handoff(s)." in shown
    refused = next(m for m in shown if m.startswith("Not cancelled"))
    assert f"#{done.pk}" in refused and "resolved" in refused
    done.refresh_from_db()
    assert done.status == Status.RESOLVED


def test_staff_without_the_change_permission_cannot_cancel(client, handoff):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(username="vera", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_handoff"))
    client.force_login(viewer)
    response = client.get(url("handoff_changelist"))
    assert response.status_code == 200
    assert "cancel_selected" not in response.content.decode()
    response = client.post(
        url("handoff_changelist"),
        {"action": "cancel_selected", "_selected_action": [handoff.pk]},
    )
    handoff.refresh_from_db()
    assert handoff.status == Status.ACKNOWLEDGED


# --- events ---------------------------------------------------------------------------------


def test_events_are_listed_filtered_and_read_only(admin_client, handoff):
    response = admin_client.get(url("handoffevent_changelist"))
    assert response.status_code == 200
    assert "Looking" in response.content.decode()
    response = admin_client.get(url("handoffevent_changelist"), {"kind__exact": "commented"})
    assert response.status_code == 200
    response = admin_client.get(url("handoffevent_changelist"), {"q": str(handoff.pk)})
    assert response.status_code == 200
    event = HandoffEvent.objects.filter(handoff=handoff).first()
    response = admin_client.get(url("handoffevent_change", event.pk))
    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()
    assert admin_client.get(url("handoffevent_add")).status_code == 403
    assert admin_client.get(url("handoffevent_delete", event.pk)).status_code == 403
