"""`seed_demo` is idempotent and builds what the README promises."""

import itertools
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.accounts.models import User
from apps.agreements.models import Agreement
from apps.handoffs.models import Clock, Handoff
from apps.reviews.models import QuarterlyReview
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


def test_the_demo_history_files_each_handoff_under_the_version_then_in_force():
    call_command("seed_demo", stdout=StringIO())
    now = timezone.now()

    rows = Handoff.objects.values_list(
        "pk", "created_at", "agreement__activated_at", "agreement__ended_at"
    )
    outside = [
        pk
        for pk, created, activated, ended in rows
        if not (activated <= created and (ended is None or created < ended))
    ]
    assert rows and outside == []

    # The handoffs of each series span its versions, not only the active one.
    used = {
        (title, version)
        for title, version in Handoff.objects.values_list(
            "agreement__title", "agreement__version"
        ).distinct()
    }
    escalation, onboarding = TITLES = (
        "Support → Engineering escalations",
        "Sales → Customer Success onboarding handoff",
    )
    assert {(escalation, v) for v in (1, 2, 3, 4)} <= used
    assert {(onboarding, v) for v in (1, 2)} <= used

    # Versions are dated in the past, each later than the one before.
    for title in TITLES:
        versions = list(Agreement.objects.filter(title=title).order_by("version"))
        created = [v.created_at for v in versions]
        assert created == sorted(created) and len(set(c.date() for c in created)) == len(created)
        activated = [v.activated_at for v in versions if v.activated_at]
        assert activated == sorted(activated)
        assert all(moment < now - timedelta(days=1) for moment in activated)
        for older, newer in itertools.pairwise(versions):
            if newer.activated_at:
                assert older.ended_at == newer.activated_at

    # A version agreed in a review is in force from the moment the review was completed.
    for review in QuarterlyReview.objects.filter(resulting_agreement__isnull=False):
        assert review.resulting_agreement.activated_at == review.completed_at
