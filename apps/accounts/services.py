"""State changes of accounts: profile and API token."""

from django.db import transaction
from rest_framework.authtoken.models import Token

from .models import User


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
def user_regenerate_api_token(*, user: User) -> Token:
    """Replace the user's API token: the old one stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


@transaction.atomic
def user_revoke_api_token(*, user: User) -> None:
    """Remove the user's API token."""
    Token.objects.filter(user=user).delete()
