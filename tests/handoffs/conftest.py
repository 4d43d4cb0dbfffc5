from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from apps.handoffs import services
from tests.factories import AgreementFactory

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


# Monday 2 March 2026, 10:00 in Berlin (CET, UTC+1): inside Engineering's 09-17 hours.
MONDAY_10 = berlin(2026, 3, 2, 10, 0)

TRIAGE = {"steps": "1. open the app 2. crash", "environment": "production"}


@pytest.fixture
def agreement(provider_team, requesting_team):
    """Active Support → Engineering agreement with the standard tiers (P1/P2 24×7,
    P3/P4 on Engineering's Mon-Fri 09:00-17:00 Berlin calendar)."""
    return AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team
    )


@pytest.fixture
def file_handoff(agreement, requester):
    def file(priority="P3", at=MONDAY_10, **extra):
        return services.handoff_create(
            actor=requester,
            agreement=agreement,
            title="Checkout crashes",
            priority=priority,
            triage=extra.pop("triage", TRIAGE),
            now=at,
            **extra,
        )

    return file
