"""Shared by the dashboard's tests: Engineering's queue on a Monday afternoon."""

import pytest

from apps.handoffs import services
from tests.helpers import MONDAY_10, berlin

AFTERNOON = berlin(2026, 3, 2, 16, 30)


@pytest.fixture
def monday_work(file_handoff, provider_member, requester):
    """Engineering's queue on Monday 2 March 2026 at 16:30 Berlin:
    - `late`: a P1 filed at 10:00, acknowledged at 16:30 — its 30 min target breached;
    - `risky`: a P3 filed at 10:00, unacknowledged: 6.5 of 8 business hours used (at risk);
    - `calm`: a P3 filed at 16:00, claimed by Max, acknowledged at 16:05 (target met);
    - `asking`: a P3 waiting on Rita's answer since 12:00."""
    late = file_handoff("P1", at=MONDAY_10)
    services.handoff_acknowledge(handoff=late, actor=provider_member, now=AFTERNOON)
    risky = file_handoff("P3", at=MONDAY_10)
    calm = file_handoff("P3", at=berlin(2026, 3, 2, 16, 0))
    services.handoff_claim(handoff=calm, actor=provider_member, now=berlin(2026, 3, 2, 16, 1))
    services.handoff_acknowledge(handoff=calm, actor=provider_member, now=berlin(2026, 3, 2, 16, 5))
    asking = file_handoff("P3", at=MONDAY_10)
    services.handoff_start(handoff=asking, actor=provider_member, now=berlin(2026, 3, 2, 11))
    services.handoff_wait_on_requester(
        handoff=asking, actor=provider_member, question="Which account?", now=berlin(2026, 3, 2, 12)
    )
    return {"late": late, "risky": risky, "calm": calm, "asking": asking}
