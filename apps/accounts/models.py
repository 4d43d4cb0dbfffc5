import datetime

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from .timezones import is_valid_timezone


def validate_timezone(value: str) -> None:
    if not is_valid_timezone(value):
        raise ValidationError(
            "“%(value)s” is not a known time zone; pick one like Europe/Berlin.",
            params={"value": value},
            code="invalid_timezone",
        )


class User(AbstractUser):
    """A person using the portal. Times are shown to them in `time_zone`."""

    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_timezone],
        help_text="Times on every page are shown in this zone.",
    )
    # Quiet hours: non-urgent email waits for the next working hour in `time_zone`.
    quiet_hours = models.BooleanField(
        default=False,
        help_text="Hold non-urgent email outside my working hours (Monday to Friday).",
    )
    work_starts = models.TimeField(default=datetime.time(9, 0))
    work_ends = models.TimeField(default=datetime.time(17, 0))

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class FailedSignIn(models.Model):
    """One refused password, kept while it counts towards a sign-in lockout.

    Rows, not cache counters: every web process sees the same count on any database,
    nothing evicts it, and the window slides (the oldest failure leaves it, not a bucket).
    """

    # Lower-cased as typed: "Max" and "max" share one count, existing user or not.
    username = models.CharField(max_length=150)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    attempted_at = models.DateTimeField(db_index=True)
    # Set by the username's next successful sign-in: the row stops counting against the
    # username but still counts against the address it came from.
    username_cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-attempted_at"]
        indexes = [
            models.Index(fields=["username", "attempted_at"], name="failedsignin_username_at"),
            models.Index(fields=["ip_address", "attempted_at"], name="failedsignin_ip_at"),
        ]

    def __str__(self) -> str:
        return f"{self.username} from {self.ip_address or 'unknown'} at {self.attempted_at}"
