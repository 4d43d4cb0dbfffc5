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

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username
