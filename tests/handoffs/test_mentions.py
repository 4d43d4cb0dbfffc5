"""`@username` in a comment reaches that person — only people who may see the handoff can
be mentioned: anyone else is refused on the comment field (page and API), nothing saved;
what the comment says is shown as text in the inbox and the email, never as markup."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.handoffs import services
from apps.handoffs.comments import mentioned_names
from apps.handoffs.models import EventKind
from apps.notifications import delivery
from apps.notifications.models import Channel, Kind, Notification, default_enabled
from apps.notifications.services import preference_set
from tests.helpers import MONDAY_10, client_for

pytestmark = pytest.mark.django_db

LATER = MONDAY_10 + timedelta(minutes=5)


def told(kind, channel=Channel.IN_APP) -> list[str]:
    rows = Notification.objects.filter(kind=kind, channel=channel).select_related("recipient")
    return sorted(n.recipient.username for n in rows)


@pytest.fixture(autouse=True)
def _monday_morning(time_machine):
    time_machine.move_to(MONDAY_10 + timedelta(minutes=20), tick=False)


@pytest.fixture
def handoff(file_handoff):
    return file_handoff("P3")


def test_names_are_read_as_people_write_them():
    text = "@rita, can you ask @max. Mail ops@example.com; (@lena) and @rita again"
    assert mentioned_names(text) == ["rita", "max", "lena"]


def test_a_mention_reaches_that_person_and_only_as_a_mention(
    handoff, provider_member, requester, provider_lead
):
    services.handoff_comment(
        handoff=handoff, actor=provider_member, comment="@rita which browser?", now=LATER
    )
    assert told(Kind.MENTION) == ["rita"]
    want = ["rita"] if default_enabled(Kind.MENTION, Channel.EMAIL) else []
    assert told(Kind.MENTION, Channel.EMAIL) == want
    mention = Notification.objects.get(kind=Kind.MENTION, channel=Channel.IN_APP)
    assert provider_member.display_name in mention.title
    assert "@rita which browser?" in mention.body
    assert mention.url.endswith(f"/handoffs/{handoff.pk}/")
    # Rita watches what she filed, but is told once: as the person mentioned.
    assert told(Kind.COMMENT) == []


def test_mentioning_people_on_either_team_and_oneself(
    handoff, provider_member, provider_lead, requester_lead
):
    services.handoff_comment(
        handoff=handoff,
        actor=provider_member,
        comment="@lena @rob have a look (cc @max, @nobody-here)",
        now=LATER,
    )
    # The author is never told; an unknown name is plain text.
    assert told(Kind.MENTION) == ["lena", "rob"]
    assert told(Kind.COMMENT) == ["rita"]


def test_someone_who_cannot_see_the_handoff_cannot_be_mentioned(handoff, requester, outsider):
    with pytest.raises(ValidationError) as refused:
        services.handoff_comment(
            handoff=handoff, actor=requester, comment="@otto see this", now=LATER
        )
    assert refused.value.message_dict == {"comment": ["@otto cannot see this handoff."]}
    assert not handoff.events.filter(kind=EventKind.COMMENTED).exists()
    assert not Notification.objects.filter(kind__in=[Kind.MENTION, Kind.COMMENT]).exists()


def test_the_page_refuses_the_mention_on_the_field_and_keeps_the_text(
    client, handoff, requester, outsider
):
    client.force_login(requester)
    typed = "Looping in @otto about <this>"
    response = client.post(reverse("handoffs:comment", args=[handoff.pk]), {"comment": typed})
    assert response.status_code == 400
    form = response.context["action_forms"]["comment"]
    assert form.errors["comment"] == ["@otto cannot see this handoff."]
    html = response.content.decode()
    assert "@otto cannot see this handoff." in html
    assert "Looping in @otto about &lt;this&gt;</textarea>" in html
    assert not handoff.events.filter(kind=EventKind.COMMENTED).exists()


def test_the_api_refuses_the_mention_with_400(handoff, requester, outsider):
    response = client_for(requester).post(
        f"/api/handoffs/{handoff.pk}/comment/", {"comment": "@otto see this"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"comment": ["@otto cannot see this handoff."]}
    assert not handoff.events.filter(kind=EventKind.COMMENTED).exists()


def test_the_api_comment_mentions(handoff, requester, provider_member):
    response = client_for(requester).post(
        f"/api/handoffs/{handoff.pk}/comment/", {"comment": "@max please"}, format="json"
    )
    assert response.status_code == 201
    assert told(Kind.MENTION) == ["max"]


def test_markup_in_a_comment_is_text_in_the_inbox_and_the_email(
    client, handoff, provider_member, requester, settings, time_machine
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    preference_set(user=requester, kind=Kind.MENTION, channel=Channel.EMAIL, enabled=True)
    services.handoff_comment(
        handoff=handoff,
        actor=provider_member,
        comment='@rita <script>alert("x")</script><b>bold</b>',
        now=MONDAY_10 + timedelta(minutes=20),
    )
    client.force_login(requester)
    inbox = client.get(reverse("notifications:inbox")).content.decode()
    assert "&lt;script&gt;alert(" in inbox
    assert "<script>alert(" not in inbox and "<b>bold</b>" not in inbox

    email = Notification.objects.get(kind=Kind.MENTION, channel=Channel.EMAIL)
    time_machine.move_to(MONDAY_10 + timedelta(hours=1), tick=False)
    delivery.notification_deliver(notification_id=email.pk)
    message = mail.outbox[-1]
    html, _ = message.alternatives[0]
    assert "&lt;script&gt;alert(" in html
    assert "<script>alert(" not in html and "<b>bold</b>" not in html
    assert '<script>alert("x")</script>' in message.body  # plain text says it as written
