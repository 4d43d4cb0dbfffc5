"""Signed reply addresses: a notification email's Reply-To names one handoff and one
person, survives the mail system folding its case, and cannot be altered to name
another handoff or person."""

import pytest

from apps.notifications.models import Channel, Notification
from apps.notifications.replies import parse_reply_address, reply_address, reply_to_address


@pytest.fixture(autouse=True)
def _replies_on(settings):
    settings.REPLY_DOMAIN = "reply.ola.example"


def about_handoff(handoff_id=42, user_id=7, **fields) -> Notification:
    return Notification(
        subject_type="handoff",
        subject_id=handoff_id,
        recipient_id=user_id,
        channel=Channel.EMAIL,
        **fields,
    )


def test_a_reply_address_names_the_handoff_and_the_person_it_was_sent_to():
    address = reply_to_address(about_handoff(42, 7))

    assert address.startswith("handoff+42.7.")
    assert address.endswith("@reply.ola.example")
    assert parse_reply_address(address) == (42, 7)


def test_each_person_and_handoff_gets_their_own_address():
    addresses = {
        reply_to_address(about_handoff(42, 7)),
        reply_to_address(about_handoff(42, 8)),
        reply_to_address(about_handoff(43, 7)),
    }
    assert len(addresses) == 3
    assert reply_to_address(about_handoff(42, 7)) == reply_to_address(about_handoff(42, 7))


def test_the_address_is_a_plain_local_part_that_needs_no_quoting():
    address = reply_to_address(about_handoff(2_147_483_647, 2_147_483_647))
    local, _, _ = address.partition("@")
    assert len(local) <= 64  # RFC 5321's limit for a local part
    assert local == local.lower()
    assert all(c.isalnum() or c in "+." for c in local)


def test_an_address_whose_case_the_mail_system_folded_still_parses():
    address = reply_to_address(about_handoff(42, 7))

    assert parse_reply_address(address.upper()) == (42, 7)
    assert parse_reply_address(f'"OLA Portal" <{address.title()}>') == (42, 7)


def one_letter_changed(address: str) -> str:
    """The signature's last letter replaced by another."""
    local, _, domain = address.partition("@")
    return f"{local[:-1]}{'b' if local[-1] == 'a' else 'a'}@{domain}"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda a: a.replace("handoff+42.", "handoff+43.", 1),  # another handoff
        lambda a: a.replace(".7.", ".8.", 1),  # another person
        one_letter_changed,
        lambda a: a.replace("@reply.ola.example", "@elsewhere.example"),
        lambda a: a.split("@")[0].rsplit(".", 1)[0] + "@reply.ola.example",  # no signature
        lambda a: a.replace("handoff+", "review+", 1),
    ],
    ids=["other-handoff", "other-person", "signature-changed", "other-domain", "unsigned", "type"],
)
def test_a_tampered_address_is_refused(tamper):
    address = reply_to_address(about_handoff(42, 7))

    assert parse_reply_address(tamper(address)) is None


@pytest.mark.parametrize(
    "garbage",
    ["", "nobody", "@reply.ola.example", "handoff+@reply.ola.example", "\ud800@x", "a" * 5000],
)
def test_garbage_is_not_an_address(garbage):
    assert parse_reply_address(garbage) is None


def test_an_address_signed_with_a_rotated_key_still_parses(settings):
    address = reply_to_address(about_handoff(42, 7))
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-after-rotation-" + "x" * 40

    assert parse_reply_address(address) == (42, 7)
    settings.SECRET_KEY_FALLBACKS = []
    assert parse_reply_address(address) is None


def test_replies_are_off_without_a_reply_domain(settings):
    address = reply_to_address(about_handoff(42, 7))
    settings.REPLY_DOMAIN = ""

    assert reply_to_address(about_handoff(42, 7)) is None
    assert parse_reply_address(address) is None


def test_only_a_personal_notification_about_a_handoff_has_a_reply_address():
    assert reply_to_address(about_handoff(42, None)) is None  # a team webhook row
    review = Notification(subject_type="review", subject_id=3, recipient_id=7)
    assert reply_to_address(review) is None
    assert reply_to_address(Notification(recipient_id=7)) is None
    assert reply_address(subject_type="handoff", subject_id=42, user_id=7) == reply_to_address(
        about_handoff(42, 7)
    )
