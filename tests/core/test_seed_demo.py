"""`seed_demo` is idempotent and builds what the README promises."""

from io import StringIO

import pytest
from django.core.management import call_command

from apps.accounts.models import User
from apps.agreements.models import Agreement
from apps.handoffs.models import Clock, Handoff
from apps.teams.models import Team

pytestmark = pytest.mark.django_db


def counts():
    return (
        User.objects.count(),
        Team.objects.count(),
        Agreement.objects.count(),
        Handoff.objects.count(),
        Clock.objects.count(),
    )


def test_seed_demo_builds_the_demo_and_running_it_again_changes_nothing():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = counts()
    call_command("seed_demo", stdout=StringIO())
    assert counts() == first

    assert set(Team.objects.values_list("slug", flat=True)) == {
        "support",
        "engineering",
        "sales",
        "customer-success",
    }
    assert "erin       ola-demo" in out.getvalue()
    assert User.objects.get(username="erin").check_password("ola-demo")

    versions = {(a.title, a.version): a.status for a in Agreement.objects.all()}
    # Versions 3 and 4 were agreed in quarterly reviews (apps/reviews/demo.py): P3 resolve
    # relaxed for a quarter, then restored to the targets of the domain reading.
    for version in (1, 2, 3):
        assert versions[("Support → Engineering escalations", version)] == "superseded"
    assert versions[("Support → Engineering escalations", 4)] == "active"
    assert versions[("Sales → Customer Success onboarding handoff", 3)] == "in_review"
    active = Agreement.objects.get(status="active", title__startswith="Support")
    assert active.target_for("P3").resolve_seconds == 80 * 3600
    p1 = active.target_for("P1")
    assert (p1.acknowledge_seconds, p1.action_plan_seconds, p1.resolve_seconds) == (
        1800,
        7200,
        28800,
    )

    assert Handoff.objects.count() >= 300
    assert Handoff.objects.open().count() >= 10
    assert Handoff.objects.filter(reopen_count__gt=0).exists()
    assert Clock.objects.filter(status="breached").exists()
    assert Clock.objects.filter(status="met").exists()
    assert Clock.objects.filter(paused_seconds__gt=0).exists()
