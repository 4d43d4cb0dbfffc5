"""Twenty people acknowledging one handoff at the same moment, on PostgreSQL."""

import threading

import pytest
from django.db import connection, connections

from apps.core.exceptions import Conflict
from apps.handoffs import services
from apps.handoffs.models import ClockStatus, EventKind
from apps.teams.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.helpers import MONDAY_10

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locking needs PostgreSQL (CI runs it)"
    ),
]


def test_twenty_simultaneous_acknowledgements_give_one_success(file_handoff, provider_team):
    handoff = file_handoff("P3")
    engineers = [
        MembershipFactory(team=provider_team, user=UserFactory(), role=Role.MEMBER).user
        for _ in range(20)
    ]
    barrier = threading.Barrier(len(engineers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def acknowledge(user):
        try:
            barrier.wait(timeout=30)
            services.handoff_acknowledge(handoff=handoff, actor=user, now=MONDAY_10)
            result = "ok"
        except Conflict as exc:
            result = exc.message
        except Exception as exc:
            result = f"error: {exc!r}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=acknowledge, args=(u,)) for u in engineers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert outcomes.count("ok") == 1, outcomes
    assert len(outcomes) == 20
    assert all(o.startswith("Already acknowledged by") for o in outcomes if o != "ok")
    handoff.refresh_from_db()
    assert handoff.events.filter(kind=EventKind.ACKNOWLEDGED).count() == 1
    assert handoff.clocks.get(metric="acknowledge").status == ClockStatus.MET
