"""Plain helpers and constants the test modules share (fixtures live in conftest.py,
factories in factories.py)."""

from datetime import datetime
from zoneinfo import ZoneInfo

from rest_framework.test import APIClient

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


# Monday 2 March 2026, 10:00 in Berlin (CET, UTC+1): inside Engineering's 09-17 hours
# and the reviews' first quarter.
MONDAY_10 = berlin(2026, 3, 2, 10, 0)

# Answers to the standard agreement's triage fields (tests.factories.AgreementFactory).
TRIAGE = {"steps": "1. open the app 2. crash", "environment": "production"}


def client_for(user) -> APIClient:
    """An API client signed in as `user`."""
    client = APIClient()
    client.force_authenticate(user)
    return client
