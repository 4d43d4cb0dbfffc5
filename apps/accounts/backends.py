"""Django's sign-in by username and password, with the user of each signed-in request read
by a query compiled once per process (every page reads it; building and compiling the
one-row query cost more than running it)."""

from __future__ import annotations

from django.contrib.auth import backends
from django.core.exceptions import ValidationError

from apps.core import sql

from .models import User

# The backend sessions signed in before this one name (apps.accounts.sessions reads them
# as this one's).
DJANGOS = "django.contrib.auth.backends.ModelBackend"
OURS = "apps.accounts.backends.ModelBackend"


def _user(pk: int):
    return User.objects.filter(pk=pk)


class ModelBackend(backends.ModelBackend):
    def get_user(self, user_id):
        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        found = sql.fetch_instances("accounts:user", _user, [pk], User.objects.db)
        if found and self.user_can_authenticate(found[0]):
            return found[0]
        return None
