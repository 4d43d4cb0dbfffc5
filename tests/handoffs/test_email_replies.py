"""Email replies become comments: replies written as a mail client writes them (the stdlib
`email` package), delivered to a real Maildir in a temporary folder, read by
apps.handoffs.inbound, the management command and the Celery task on a real worker."""

import mailbox
import time
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.core import limits
from apps.handoffs import services
from apps.handoffs.inbound import read_maildir
from apps.handoffs.inbound.message import MESSAGE_MAX_BYTES, reply_text
from apps.handoffs.models import ClockStatus, EventKind, HandoffEvent, Status
from apps.notifications.replies import reply_address
from olaportal.celery import app as celery_app
from tests.handoffs.test_sweep_worker import wait_until
from tests.helpers import MONDAY_10

QUESTION_AT = MONDAY_10 + timedelta(minutes=30)
REPLY_AT = MONDAY_10 + timedelta(hours=2)


@pytest.fixture
def maildir(settings, tmp_path):
    settings.REPLY_DOMAIN = "reply.ola.example"
    settings.REPLY_MAILDIR = str(tmp_path / "replies")
    return mailbox.Maildir(settings.REPLY_MAILDIR, factory=None, create=True)


@pytest.fixture
def waiting(file_handoff, provider_member):
    """A P3 Max acknowledged and asked Rita about: waiting on her, its resolve clock
    paused."""
    handoff = file_handoff("P3")
    services.handoff_acknowledge(handoff=handoff, actor=provider_member, now=MONDAY_10)
    return services.handoff_wait_on_requester(
        handoff=handoff, actor=provider_member, question="Which iOS version?", now=QUESTION_AT
    )


def address_for(handoff, user) -> str:
    return reply_address(subject_type="handoff", subject_id=handoff.pk, user_id=user.pk)


def reply_email(
    *,
    to: str,
    sender: str,
    text: str | None = None,
    html: str | None = None,
    message_id: str | None = None,
    **headers,
) -> EmailMessage:
    """A reply as a mail client sends it: the answer on top, the notification quoted."""
    message = EmailMessage()
    message["From"] = f"Rita Requester <{sender}>"
    message["To"] = f"OLA Portal <{to}>"
    message["Subject"] = "Re: [OLA Portal] Question about #1 Checkout crashes"
    message["Date"] = format_datetime(REPLY_AT)
    message["Message-ID"] = message_id or make_msgid(domain="mail.example.com")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    return message


QUOTED = (
    "\n\nOn Mon, 2 Mar 2026 at 10:30, OLA Portal <ola@example.com> wrote:\n"
    "> Max asked: Which iOS version?\n"
    "> Reply to this email or open http://127.0.0.1:8000/handoffs/1/#reply\n"
)


def deliver(maildir, message) -> None:
    maildir.add(message if isinstance(message, bytes) else message.as_bytes())


def folder(maildir, name) -> list[bytes]:
    try:
        box = maildir.get_folder(name)
    except mailbox.NoSuchMailboxError:
        return []
    return [box.get_bytes(key) for key in box.iterkeys()]


def read(now):
    return read_maildir(settings.REPLY_MAILDIR, now=now)


def comments(handoff, kind=EventKind.COMMENTED) -> list[HandoffEvent]:
    return list(handoff.events.filter(kind=kind).order_by("id"))


# --- replies that become comments -----------------------------------------------------------


def test_a_requesters_reply_resumes_the_waiting_handoff_and_its_clock_runs_again(
    maildir, waiting, requester, provider_member
):
    assert waiting.clock("resolve").status == ClockStatus.PAUSED
    message = reply_email(
        to=address_for(waiting, requester),
        sender=requester.email,
        text="iOS 17.2 on an iPhone 15.\nIt started after the update." + QUOTED,
        html="<p>iOS 17.2 on an iPhone 15.<br>It started after the update.</p>"
        '<div class="gmail_quote">On Mon … wrote:<blockquote>Which iOS?</blockquote></div>',
    )
    deliver(maildir, message)

    batch = read(now=REPLY_AT)

    assert (batch.resumed, batch.commented, batch.refused) == (1, 0, 0)
    waiting.refresh_from_db()
    assert waiting.status == Status.IN_PROGRESS
    assert waiting.waiting_since is None
    assert waiting.waiting_seconds == int((REPLY_AT - QUESTION_AT).total_seconds())
    assert waiting.clocks.get(metric="resolve").status == ClockStatus.RUNNING
    [reply] = comments(waiting, EventKind.REPLIED)
    assert reply.actor == requester
    assert reply.created_at == REPLY_AT
    assert reply.comment == "iOS 17.2 on an iPhone 15.\nIt started after the update."
    assert reply.after["via"] == "email"
    # The message left the inbox for the processed folder, intact.
    assert maildir.keys() == []
    assert folder(maildir, "Processed") == [message.as_bytes()]


def test_a_reply_on_a_handoff_that_is_not_waiting_becomes_a_comment(
    maildir, file_handoff, requester
):
    handoff = file_handoff("P3")
    deliver(
        maildir,
        reply_email(
            to=address_for(handoff, requester),
            sender=requester.email,
            text="Customer 4411 is affected too." + QUOTED,
        ),
    )

    batch = read(now=REPLY_AT)

    assert batch.commented == 1
    [comment] = comments(handoff)
    assert (comment.actor, comment.comment) == (requester, "Customer 4411 is affected too.")
    handoff.refresh_from_db()
    assert handoff.status == Status.NEW


def test_the_provider_answering_a_waiting_handoff_by_email_comments_and_it_keeps_waiting(
    maildir, waiting, provider_member
):
    deliver(
        maildir,
        reply_email(
            to=address_for(waiting, provider_member),
            sender=provider_member.email.upper(),  # addresses compare without case
            text="Also: does it happen on Android?\n\n-- \nMax, Engineering\n+49 30 1234",
        ),
    )

    read(now=REPLY_AT)

    [comment] = comments(waiting)
    assert comment.actor == provider_member
    assert comment.comment == "Also: does it happen on Android?"
    waiting.refresh_from_db()
    assert waiting.status == Status.WAITING


def test_an_html_only_reply_is_read_as_text_without_markup_or_quoted_history(
    maildir, file_handoff, requester
):
    handoff = file_handoff("P3")
    html = (
        "<html><head><style>p {color: red}</style><title>Re</title></head><body>"
        "<div>Thanks &amp; <b>confirmed</b>:<br>the fix works &lt;here&gt;.</div>"
        "<script>alert(1)</script>"
        '<div class="gmail_quote"><div>On Mon, 2 Mar 2026 OLA Portal wrote:</div>'
        "<blockquote><div>Resolved: <b>deployed</b></div></blockquote></div>"
        "</body></html>"
    )
    deliver(
        maildir, reply_email(to=address_for(handoff, requester), sender=requester.email, html=html)
    )

    read(now=REPLY_AT)

    [comment] = comments(handoff)
    assert comment.comment == "Thanks & confirmed:\nthe fix works <here>."


def test_a_reply_in_another_charset_with_an_attachment_keeps_its_text(
    maildir, file_handoff, requester
):
    handoff = file_handoff("P3")
    message = reply_email(
        to=address_for(handoff, requester), sender=requester.email, text="Grüße — ça marche 👍"
    )
    message.add_attachment(
        b"\x89PNG\r\n" + bytes(5000), maintype="image", subtype="png", filename="screenshot.png"
    )
    deliver(maildir, message)

    read(now=REPLY_AT)

    assert comments(handoff)[0].comment == "Grüße — ça marche 👍"


def test_a_reply_longer_than_a_comment_is_cut_and_says_so(maildir, file_handoff, requester):
    handoff = file_handoff("P3")
    long_text = "\n".join(f"Log line {n}: checkout failed with 500" for n in range(3000))
    deliver(
        maildir,
        reply_email(to=address_for(handoff, requester), sender=requester.email, text=long_text),
    )

    batch = read(now=REPLY_AT)

    assert batch.commented == 1
    [comment] = comments(handoff)
    assert len(comment.comment) <= limits.HANDOFF_TEXT_MAX
    assert comment.comment.startswith("Log line 0: checkout failed with 500\nLog line 1:")
    assert comment.comment.endswith(
        "The rest of this email was cut: a reply keeps to 10,000 characters."
    )


@pytest.mark.parametrize(
    "body",
    [
        "Yes, fixed.\n\nOn Mon, 2 Mar 2026 at 10:30, OLA Portal <ola@x.example> wrote:\n> Q?",
        # Apple Mail and Thunderbird wrap the line.
        "Yes, fixed.\n\nOn Mon, 2 Mar 2026 at 10:30, OLA Portal <ola@x.example>\nwrote:\n> Q?",
        "Yes, fixed.\n\nAm 02.03.2026 um 10:30 schrieb OLA Portal <ola@x.example>:\n> Q?",
        "Yes, fixed.\n\nLe lun. 2 mars 2026, OLA Portal <ola@x.example> a écrit :\n> Q?",
        "Yes, fixed.\n\n________________________________\nFrom: OLA Portal\nSent: Monday\nQ?",
        "Yes, fixed.\r\n\r\n-----Original Message-----\r\nFrom: OLA Portal\r\nQ?",
        "Yes, fixed.\n\n-- \nRita Requester | Support\n",
        "Yes, fixed.\n\nSent from my iPhone",
    ],
    ids=["gmail", "wrapped", "german", "french", "outlook-web", "outlook", "signature", "phone"],
)
def test_the_quoted_history_and_signatures_of_common_mail_clients_are_left_out(body):
    message = EmailMessage()
    message.set_content(body)
    assert reply_text(message) == "Yes, fixed."


def test_a_crafted_body_costs_linear_time():
    # Thousands of lines that start like a quote header and never end like one.
    message = EmailMessage()
    message.set_content(("On " + "y" * 290 + "\n") * 3300)
    started = time.perf_counter()
    reply_text(message)
    assert time.perf_counter() - started < 2  # was 6.6 s with one multi-line pattern


# --- each email once ---------------------------------------------------------------------------


def test_a_redelivered_copy_does_not_comment_twice(maildir, file_handoff, requester):
    handoff = file_handoff("P3")
    message = reply_email(
        to=address_for(handoff, requester), sender=requester.email, text="Same words once."
    )
    deliver(maildir, message)
    deliver(maildir, message)  # the mail system delivered it twice

    first = read(now=REPLY_AT)
    deliver(maildir, message)  # and once more, a minute later
    second = read(now=REPLY_AT + timedelta(minutes=1))

    assert (first.commented, first.duplicates, second.duplicates) == (1, 1, 1)
    assert [c.comment for c in comments(handoff)] == ["Same words once."]
    assert maildir.keys() == []
    assert len(folder(maildir, "Processed")) == 3


def test_the_same_words_in_two_emails_are_two_comments(maildir, file_handoff, requester):
    handoff = file_handoff("P3")
    for _ in range(2):
        deliver(
            maildir,
            reply_email(to=address_for(handoff, requester), sender=requester.email, text="+1"),
        )

    read(now=REPLY_AT)

    assert [c.comment for c in comments(handoff)] == ["+1", "+1"]


def test_a_batch_out_of_time_leaves_the_rest_for_the_next_run(maildir, file_handoff, requester):
    handoff = file_handoff("P3")
    deliver(
        maildir, reply_email(to=address_for(handoff, requester), sender=requester.email, text="Hi")
    )

    batch = read_maildir(settings.REPLY_MAILDIR, now=REPLY_AT, seconds=0)

    assert (batch.more, batch.commented, len(maildir.keys())) == (True, 0, 1)
    assert read(REPLY_AT).commented == 1


# --- replies that are refused -------------------------------------------------------------------


def refused_reasons(maildir) -> list[str]:
    reasons = []
    for raw in folder(maildir, "Rejected"):
        first_line = raw.split(b"\n", 1)[0].decode("ascii")
        assert first_line.startswith("X-OLA-Reply-Refused: ")
        reasons.append(first_line.removeprefix("X-OLA-Reply-Refused: "))
    return reasons


def test_a_reply_from_another_address_is_set_aside_never_a_comment(maildir, waiting, requester):
    # Someone who saw Rita's reply address (a forwarded email) answers from their own.
    deliver(
        maildir,
        reply_email(
            to=address_for(waiting, requester), sender="mallory@evil.example", text="Close it."
        ),
    )

    batch = read(now=REPLY_AT)

    assert (batch.refused, batch.commented, batch.resumed) == (1, 0, 0)
    assert not waiting.events.filter(kind__in=[EventKind.COMMENTED, EventKind.REPLIED]).exists()
    waiting.refresh_from_db()
    assert waiting.status == Status.WAITING
    [reason] = refused_reasons(maildir)
    assert "mallory@evil.example" in reason and "not by the person" in reason
    assert maildir.keys() == []


def test_a_tampered_reply_address_is_set_aside(maildir, file_handoff, requester):
    handoff = file_handoff("P3")
    other = file_handoff("P4")
    # Rita's address for one handoff, edited to name the other.
    forged = address_for(handoff, requester).replace(f"+{handoff.pk}.", f"+{other.pk}.")
    deliver(maildir, reply_email(to=forged, sender=requester.email, text="Let me in."))
    deliver(maildir, reply_email(to="someone@reply.ola.example", sender=requester.email, text="Hi"))

    batch = read(now=REPLY_AT)

    assert batch.refused == 2
    assert not HandoffEvent.objects.filter(kind=EventKind.COMMENTED).exists()
    assert sorted(refused_reasons(maildir)) == [
        "not sent to a reply address",
        "the reply address's signature does not match (altered or foreign)",
    ]


def test_an_outsiders_reply_is_refused(maildir, file_handoff, outsider):
    # Otto has a validly signed address (he was in Engineering when he was told) but is
    # on neither team now: he may not even see the handoff.
    handoff = file_handoff("P3")
    deliver(
        maildir,
        reply_email(to=address_for(handoff, outsider), sender=outsider.email, text="Me too"),
    )

    batch = read(now=REPLY_AT)

    assert batch.refused == 1
    assert not handoff.events.filter(kind=EventKind.COMMENTED).exists()
    assert refused_reasons(maildir) == [
        "the handoff does not exist or its sender may no longer see it"
    ]


def test_a_provider_the_agreement_does_not_let_comment_is_refused_with_the_reason(
    maildir, file_handoff, provider_member, agreement
):
    agreement.updates_by = "provider_lead"
    agreement.save(update_fields=["updates_by"])
    handoff = file_handoff("P3")
    deliver(
        maildir,
        reply_email(
            to=address_for(handoff, provider_member), sender=provider_member.email, text="On it"
        ),
    )

    batch = read(now=REPLY_AT)

    assert batch.refused == 1
    assert not handoff.events.filter(kind=EventKind.COMMENTED).exists()
    [reason] = refused_reasons(maildir)
    assert reason.startswith("This agreement says the provider team's lead sends the updates")


def test_an_out_of_office_answer_and_an_empty_reply_are_not_comments(maildir, waiting, requester):
    to = address_for(waiting, requester)
    deliver(
        maildir,
        reply_email(
            to=to,
            sender=requester.email,
            text="I am away until Monday.",
            Auto_Submitted="auto-replied",
        ),
    )
    deliver(maildir, reply_email(to=to, sender=requester.email, text=QUOTED.strip()))

    batch = read(now=REPLY_AT)

    assert batch.refused == 2
    waiting.refresh_from_db()
    assert waiting.status == Status.WAITING  # an away message must not resume the clock
    assert sorted(refused_reasons(maildir)) == [
        "an automatic answer (out of office, bounce or list mail)",
        "no reply text above the quoted message",
    ]


def test_bad_messages_are_set_aside_and_the_rest_of_the_batch_goes_on(
    maildir, file_handoff, requester
):
    handoff = file_handoff("P3")
    to = address_for(handoff, requester)
    deliver(maildir, b"\x00\xff\xfe not an email at all \x80\x81")
    deliver(maildir, b"Subject: no sender, no recipient\n\nHello")
    # Bytes that are not the UTF-8 they claim, and a charset nobody knows.
    deliver(
        maildir,
        (
            f"From: {requester.email}\nTo: {to}\nMessage-ID: <bad-utf8@x>\n"
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        ).encode()
        + b"broken \xed\xa0\x80 bytes\n",
    )
    deliver(
        maildir,
        (
            f"From: {requester.email}\nTo: {to}\nMessage-ID: <odd-charset@x>\n"
            "Content-Type: text/plain; charset=x-no-such-charset\n\nodd charset\n"
        ).encode(),
    )
    # MIME nested twenty levels deep (read), and a thousand (set aside).
    for depth in (20, 1000):
        nested = f"From: {requester.email}\nTo: {to}\nMessage-ID: <nested{depth}@x>\n"
        nested += "".join(
            f'Content-Type: multipart/mixed; boundary="b{n}"\n\n--b{n}\n' for n in range(depth)
        )
        nested += f"Content-Type: text/plain\n\n{depth} levels down\n"
        deliver(maildir, nested.encode())
    deliver(maildir, f"From: <>\nTo: {to}\n\nempty sender".encode())
    deliver(maildir, reply_email(to=to, sender=requester.email, text="The good one."))

    batch = read(now=REPLY_AT)

    texts = [c.comment for c in comments(handoff)]
    assert "The good one." in texts
    assert "broken \ufffd\ufffd\ufffd bytes" in texts  # stored, undecodable bytes replaced
    assert "odd charset" in texts
    assert "20 levels down" in texts
    assert batch.commented == len(texts) == 4
    assert sorted(refused_reasons(maildir)) == [
        "MIME parts nested too deeply to read",
        "no single sender address (From)",
        "not sent to a reply address",
        "not sent to a reply address",
    ]
    assert maildir.keys() == []  # nothing left to trip the next run


def test_a_message_larger_than_the_limit_is_set_aside_unread(maildir, file_handoff, requester):
    handoff = file_handoff("P3")
    message = reply_email(to=address_for(handoff, requester), sender=requester.email, text="Video")
    message.add_attachment(
        bytes(MESSAGE_MAX_BYTES), maintype="video", subtype="mp4", filename="a.mp4"
    )
    deliver(maildir, message)

    batch = read(now=REPLY_AT)

    assert (batch.refused, batch.reasons) == (1, ["larger than 25 MB"])
    assert not comments(handoff)
    assert folder(maildir, "Rejected") == [message.as_bytes()]  # set aside intact


# --- the command and the task ----------------------------------------------------------------


def test_the_management_command_reads_the_reply_mailbox_end_to_end(
    maildir, waiting, requester, capsys
):
    to = address_for(waiting, requester)
    deliver(maildir, reply_email(to=to, sender=requester.email, text="Version 17.2." + QUOTED))
    deliver(maildir, reply_email(to=to, sender="someone@else.example", text="Ignore me"))

    call_command("read_email_replies")

    out = capsys.readouterr().out
    assert "0 commented, 1 resumed, 0 already taken, 1 set aside, 0 left" in out
    assert "set aside: sent from someone@else.example" in out
    waiting.refresh_from_db()
    assert waiting.status == Status.IN_PROGRESS
    assert comments(waiting, EventKind.REPLIED)[0].comment == "Version 17.2."
    assert maildir.keys() == []


def test_the_command_says_when_email_replies_are_off(settings):
    settings.REPLY_DOMAIN = ""
    with pytest.raises(CommandError, match="set REPLY_DOMAIN"):
        call_command("read_email_replies")


def test_beat_reads_the_reply_mailbox_every_minute():
    [entry] = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "apps.handoffs.tasks.read_email_replies"
    ]
    assert entry["schedule"] == timedelta(minutes=1)
    assert entry["options"]["expires"] < 60


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_the_task_on_a_real_worker_turns_a_reply_into_a_comment(maildir, file_handoff, requester):
    handoff = file_handoff("P3")
    deliver(
        maildir,
        reply_email(
            to=address_for(handoff, requester), sender=requester.email, text="From the worker."
        ),
    )

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        celery_app.send_task("apps.handoffs.tasks.read_email_replies")
        assert wait_until(lambda: handoff.events.filter(kind=EventKind.COMMENTED).exists())

    assert [c.comment for c in comments(handoff)] == ["From the worker."]
    assert maildir.keys() == []
