"""Action items: follow-ups of a quarterly or breach review, owned by a member of one of
the two teams, due on a date; the owner is reminded on the due date and once when it is
overdue, each exactly once."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.notifications.models import Notification
from apps.reviews import services
from apps.reviews.models import ActionItem, RootCause
from apps.reviews.tasks import reviews_daily
from tests.helpers import MONDAY_10

from .conftest import REVIEW_DAY

pytestmark = pytest.mark.django_db

DUE_ON = date(2026, 4, 15)


def morning(day: date, hour: int = 7) -> datetime:
    # The owners' zone is UTC (the user factory's default).
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def breach_review(breached_clock, provider_member):
    return services.breach_review_save(
        clock=breached_clock(),
        actor=provider_member,
        root_cause=RootCause.SKILLS,
        what_happened="Nobody on shift knew the billing service.",
        now=MONDAY_10 + timedelta(days=1),
    )


def add(actor, owner, *, review=None, breach_review=None, due_date=DUE_ON, title="Write a runbook"):
    return services.action_item_create(
        actor=actor,
        title=title,
        owner=owner,
        due_date=due_date,
        review=review,
        breach_review=breach_review,
        now=REVIEW_DAY,
    )


def reminders(item):
    return Notification.objects.filter(
        kind="reminder", subject_type="action_item", subject_id=item.pk, channel="in_app"
    ).order_by("created_at", "id")


# --- creating ----------------------------------------------------------------------------------


def test_a_lead_adds_an_action_item_to_the_review_for_a_member_of_either_team(
    review, provider_lead, requester
):
    item = add(provider_lead, requester, review=review)

    assert (item.review, item.owner, item.due_date, item.created_by) == (
        review,
        requester,
        DUE_ON,
        provider_lead,
    )
    assert not item.is_done
    # The owner hears about it.
    [notice] = reminders(item)
    assert notice.recipient == requester and "Write a runbook" in notice.title


def test_only_leads_add_items_to_a_quarterly_review(
    review, provider_member, requester, outsider, staff
):
    for user in (provider_member, requester, outsider, staff):
        with pytest.raises(PermissionDenied):
            add(user, provider_member, review=review)
    assert not ActionItem.objects.exists()


def test_provider_members_add_items_to_a_breach_review(
    breach_review, provider_member, requester, requester_lead, outsider
):
    item = add(provider_member, provider_member, breach_review=breach_review)
    assert item.breach_review == breach_review
    for user in (requester, requester_lead, outsider):
        with pytest.raises(PermissionDenied):
            add(user, provider_member, breach_review=breach_review)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"due_date": None}, "due_date"),
        ({"due_date": date(2026, 3, 1)}, "due_date"),
        ({"owner": None}, "owner"),
    ],
)
def test_bad_items_are_refused_on_the_field(review, provider_lead, requester, changes, field):
    values = {"title": "Write a runbook", "owner": requester, "due_date": DUE_ON, **changes}
    with pytest.raises(ValidationError) as excinfo:
        add(provider_lead, review=review, **values)
    assert field in excinfo.value.message_dict


def test_the_owner_must_belong_to_one_of_the_two_teams(review, provider_lead, outsider):
    with pytest.raises(ValidationError) as excinfo:
        add(provider_lead, outsider, review=review)
    assert "owner" in excinfo.value.message_dict


def test_an_item_has_exactly_one_parent(review, breach_review, provider_lead):
    with pytest.raises(ValidationError):
        add(provider_lead, provider_lead, review=review, breach_review=breach_review)
    with pytest.raises(ValidationError):
        add(provider_lead, provider_lead)


# --- done and undone ---------------------------------------------------------------------------


def test_the_owner_ticks_their_item_off_and_may_open_it_again(review, provider_lead, requester):
    item = add(provider_lead, requester, review=review)
    done_at = REVIEW_DAY + timedelta(days=2)

    item = services.action_item_set_done(item=item, actor=requester, done=True, now=done_at)
    assert item.done_at == done_at
    # Ticking it again keeps when it was first done.
    item = services.action_item_set_done(
        item=item, actor=requester, done=True, now=done_at + timedelta(days=1)
    )
    assert item.done_at == done_at

    item = services.action_item_set_done(
        item=item, actor=requester, done=False, now=done_at + timedelta(days=1)
    )
    assert item.done_at is None


def test_leads_may_tick_off_others_items_and_others_may_not(
    review, provider_lead, requester_lead, requester, provider_member, outsider
):
    item = add(provider_lead, requester, review=review)
    for user in (provider_member, outsider):
        with pytest.raises(PermissionDenied):
            services.action_item_set_done(item=item, actor=user, done=True, now=REVIEW_DAY)
    item = services.action_item_set_done(item=item, actor=requester_lead, done=True, now=REVIEW_DAY)
    assert item.is_done


def test_provider_members_tick_off_breach_review_items(
    breach_review, provider_member, provider_lead, requester
):
    item = add(provider_member, provider_lead, breach_review=breach_review)
    with pytest.raises(PermissionDenied):
        services.action_item_set_done(item=item, actor=requester, done=True, now=REVIEW_DAY)
    assert services.action_item_set_done(
        item=item, actor=provider_member, done=True, now=REVIEW_DAY
    ).is_done


# --- reminders ---------------------------------------------------------------------------------


def test_the_owner_is_reminded_on_the_due_date_and_once_overdue(review, provider_lead, requester):
    item = add(provider_lead, requester, review=review)
    expected = {
        DUE_ON - timedelta(days=1): 0,
        DUE_ON: 1,
        DUE_ON + timedelta(days=1): 1,
        DUE_ON + timedelta(days=2): 0,
        DUE_ON + timedelta(days=30): 0,
    }
    for day, sent in expected.items():
        assert services.action_items_remind(now=morning(day)) == sent, day
        assert services.action_items_remind(now=morning(day, hour=9)) == 0, day

    titles = [n.title for n in reminders(item)]
    assert titles == [
        "Action item for you: Write a runbook",
        "Due today: Write a runbook",
        "Overdue: Write a runbook",
    ]
    assert {n.recipient for n in reminders(item)} == {requester}
    item.refresh_from_db()
    assert item.reminded_due_at == morning(DUE_ON)
    assert item.reminded_overdue_at == morning(DUE_ON + timedelta(days=1))


def test_a_done_item_is_not_reminded(review, provider_lead, requester):
    item = add(provider_lead, requester, review=review)
    services.action_item_set_done(item=item, actor=requester, done=True, now=REVIEW_DAY)
    assert services.action_items_remind(now=morning(DUE_ON)) == 0
    assert services.action_items_remind(now=morning(DUE_ON + timedelta(days=1))) == 0


def test_an_item_first_seen_late_is_only_flagged_overdue(review, provider_lead, requester):
    item = add(provider_lead, requester, review=review)
    assert services.action_items_remind(now=morning(DUE_ON + timedelta(days=3))) == 1
    assert [n.title for n in reminders(item)][1:] == ["Overdue: Write a runbook"]


def test_dates_are_the_owners_local_dates(review, provider_lead, requester):
    requester.time_zone = "Pacific/Auckland"
    requester.save(update_fields=["time_zone"])
    add(provider_lead, requester, review=review)
    # 12:00 UTC on 14 April is already 15 April in Auckland.
    assert services.action_items_remind(now=datetime(2026, 4, 14, 12, tzinfo=UTC)) == 1


def test_reminding_reads_only_what_is_due(
    review, provider_lead, requester, django_assert_num_queries
):
    for days in range(10):
        add(provider_lead, requester, review=review, due_date=DUE_ON + timedelta(days=days + 5))
    with django_assert_num_queries(1):
        assert services.action_items_remind(now=morning(DUE_ON)) == 0


def test_the_daily_task_reminds_owners(review, provider_lead, requester):
    add(provider_lead, requester, review=review)
    assert reviews_daily(now=morning(DUE_ON).isoformat())["action_items"] == 1
    assert reviews_daily(now=morning(DUE_ON).isoformat())["action_items"] == 0
