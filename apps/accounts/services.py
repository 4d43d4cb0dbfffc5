"""State changes of accounts: profile, API token, and failed sign-ins."""

from datetime import datetime, timedelta
from datetime import time as datetime_time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from .models import FailedSignIn, User
from .selectors import sign_in_key


@transaction.atomic
def user_update_profile(
    *, user: User, first_name: str, last_name: str, email: str, time_zone: str
) -> User:
    """Update a user's own profile; the time zone is validated by the model."""
    user.first_name = first_name
    user.last_name = last_name
    user.email = email
    user.time_zone = time_zone
    user.full_clean(exclude=["password", "username"])
    user.save(update_fields=["first_name", "last_name", "email", "time_zone"])
    return user


@transaction.atomic
def user_set_quiet_hours(
    *, user: User, quiet_hours: bool, work_starts: datetime_time, work_ends: datetime_time
) -> User:
    """Set when a person's working day runs (Monday to Friday, their zone); with quiet
    hours on, non-urgent email waits for it. A day ends after it starts."""
    if work_ends <= work_starts:
        raise ValidationError({"work_ends": ["Working hours end after they start."]})
    user.quiet_hours = quiet_hours
    user.work_starts = work_starts
    user.work_ends = work_ends
    user.save(update_fields=["quiet_hours", "work_starts", "work_ends"])
    return user


@transaction.atomic
def user_regenerate_api_token(*, user: User) -> Token:
    """Replace the user's API token: the old one stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


@transaction.atomic
def user_revoke_api_token(*, user: User) -> None:
    """Remove the user's API token."""
    Token.objects.filter(user=user).delete()


@transaction.atomic
def sign_in_failure_record(*, username: str, ip_address: str | None, now: datetime) -> FailedSignIn:
    """Count a refused password against its username and address; failures that have
    left the window are forgotten."""
    window = timedelta(minutes=settings.SIGN_IN_WINDOW_MINUTES)
    FailedSignIn.objects.filter(attempted_at__lte=now - window).delete()
    return FailedSignIn.objects.create(
        username=sign_in_key(username), ip_address=ip_address, attempted_at=now
    )


@transaction.atomic
def sign_in_failures_clear(*, username: str, now: datetime) -> int:
    """A successful sign-in: the username starts again from no failures. They still count
    against the address they came from, or one good password would reset its count."""
    return FailedSignIn.objects.filter(
        username=sign_in_key(username), username_cleared_at=None
    ).update(username_cleared_at=now)
