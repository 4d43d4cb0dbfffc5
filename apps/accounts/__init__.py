"""People: the custom User (time zone, display name), sign-in (local, throttled) and API
tokens, the profile page. Public services: accounts/services.py."""
