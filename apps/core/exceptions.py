"""Errors that services raise and every caller maps the same way.

- `django.core.exceptions.ValidationError` (bad input) → form errors / HTTP 400;
- `django.core.exceptions.PermissionDenied` (not allowed for this user) → 403;
- `Conflict` (the current state does not allow the action) → a message / HTTP 409.
"""


class Conflict(Exception):
    """The action is not allowed in the object's current state (HTTP 409)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
