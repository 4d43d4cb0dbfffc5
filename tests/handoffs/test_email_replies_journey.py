"""The whole turn by email: Max asks Rita a question, the portal emails her, she answers
from her mail client to the notification's reply address, and the handoff resumes and
Max is told — the same as answering on the page, once however often the email arrives."""

import pytest
from django.conf import settings

from apps.handoffs.inbound import read_maildir
from apps.handoffs.models import EventKind, Status
from apps.notifications.models import Channel, Kind, Notification
from apps.notifications.replies import reply_to_address
from tests.handoffs import test_email_replies as replies
from tests.handoffs.test_email_replies import QUOTED, REPLY_AT, deliver, reply_email

pytestmark = pytest.mark.django_db

maildir = replies.maildir  # the fixture: REPLY_DOMAIN and a Maildir in a temporary folder
waiting = replies.waiting  # the fixture: Max asked Rita a question


def test_answering_the_question_email_resumes_the_handoff_and_tells_the_assignee(
    maildir, waiting, requester, provider_member
):
    question = Notification.objects.get(
        kind=Kind.QUESTION, channel=Channel.IN_APP, recipient=requester, subject_id=waiting.pk
    )
    address = reply_to_address(question)
    assert address is not None
    answer = reply_email(to=address, sender=requester.email, text="iOS 17.2." + QUOTED)
    deliver(maildir, answer)
    deliver(maildir, answer)  # the mail system delivered it twice

    batch = read_maildir(settings.REPLY_MAILDIR, now=REPLY_AT)

    assert (batch.resumed, batch.duplicates) == (1, 1)
    waiting.refresh_from_db()
    assert waiting.status == Status.IN_PROGRESS
    [reply] = waiting.events.filter(kind=EventKind.REPLIED)
    assert (reply.actor, reply.comment) == (requester, "iOS 17.2.")
    told = Notification.objects.filter(
        kind=Kind.REPLIED, subject_id=waiting.pk, channel=Channel.IN_APP
    )
    assert [(n.recipient, n.body) for n in told] == [(provider_member, "iOS 17.2.")]
    assert maildir.keys() == []
