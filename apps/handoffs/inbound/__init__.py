"""Email replies become comments: read the reply mailbox (a Maildir on this machine, or an
IMAP folder) and turn each reply to a notification email into a comment by the person it
was sent to; a requester's reply on a handoff waiting on them resumes it (its clocks run
again), as answering on the page does.

A reply is accepted only when it is addressed to a signed reply address
(apps.notifications.replies) and comes from the email address of the person that address
was issued to; anything else (a bad token, another sender, an out-of-office answer, a
refusal by the services) is set aside with its reason, never a comment. Each message is
handled once: it leaves the inbox (to the `Processed` or `Rejected` folder), and a
redelivered copy finds its Message-ID on the timeline and is not written twice. One bad
message never stops the batch: it is set aside and the rest go on; only a database outage
stops the batch, leaving the messages for the next run.
"""

from .mailboxes import read_imap, read_maildir, read_replies
from .message import Refused
from .taking import Batch, take_reply

__all__ = ["Batch", "Refused", "read_imap", "read_maildir", "read_replies", "take_reply"]
