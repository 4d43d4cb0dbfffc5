"""`manage.py read_email_replies`: turn the replies waiting in the reply mailbox into
comments now (beat does it every minute: apps.handoffs.tasks.read_email_replies)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.handoffs.inbound import Batch, read_imap, read_maildir


class Command(BaseCommand):
    help = (
        "Read the reply mailbox (REPLY_MAILDIR and/or REPLY_IMAP_URL, or the one given) and "
        "turn replies to notification emails into comments."
    )

    def add_arguments(self, parser):
        parser.add_argument("--maildir", help="A Maildir to read instead of REPLY_MAILDIR.")
        parser.add_argument("--imap", help="An imaps:// URL to read instead of REPLY_IMAP_URL.")

    def handle(self, *args, maildir=None, imap=None, **options):
        if not settings.REPLY_DOMAIN:
            raise CommandError("Email replies are off: set REPLY_DOMAIN.")
        if maildir is None and imap is None:
            maildir, imap = settings.REPLY_MAILDIR or None, settings.REPLY_IMAP_URL or None
        if maildir is None and imap is None:
            raise CommandError("No reply mailbox: set REPLY_MAILDIR or REPLY_IMAP_URL.")
        total = Batch()
        for read, source in ((read_maildir, maildir), (read_imap, imap)):
            if source is None:
                continue
            while True:  # batch after batch until the inbox is empty
                batch = read(source, now=timezone.now())
                total.add(batch)
                if not batch.more or batch.left:
                    break
        self.stdout.write(
            f"{total.commented} commented, {total.resumed} resumed, "
            f"{total.duplicates} already taken, {total.refused} set aside, {total.left} left"
        )
        for reason in total.reasons:
            self.stdout.write(f"  set aside: {reason}")
        if total.left:
            raise CommandError("The database is unavailable: the rest wait for the next run.")
