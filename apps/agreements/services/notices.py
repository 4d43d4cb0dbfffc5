"""Who hears about an agreement version's lifecycle, told by the service that made the
change (inside its transaction; deliveries leave after commit):

- submitted for approval → the leads of both teams, who must approve (kind APPROVAL);
- approved by one side → both teams' leads, saying whose approval is still awaited;
  activated (both sides approved) → both teams' leads (kind AGREEMENT);
- changes requested → the version's author (kind AGREEMENT).

Never the person who acted. Each event is keyed on the version and the submission it
belongs to, so a version resubmitted after changes asks again, and a service run twice
tells once.
"""

from __future__ import annotations

from datetime import datetime

from apps.notifications.models import Kind as NotificationKind
from apps.notifications.services import notify
from apps.teams.models import Membership, Role

from ..models import Agreement


def _leads(*teams) -> list:
    """The active leads of these teams, each once."""
    memberships = (
        Membership.objects.filter(
            team_id__in=[t.pk for t in teams], role=Role.LEAD, user__is_active=True
        )
        .select_related("user")
        .order_by("user_id")
    )
    return list({m.user_id: m.user for m in memberships}.values())


def _submission(agreement: Agreement, submitted_at: datetime | None) -> str:
    # The submission an event belongs to: a version sent back and resubmitted is asked
    # (and decided) afresh under a new key.
    return f"{submitted_at:%Y%m%d%H%M%S}" if submitted_at else "unsubmitted"


def _tell(
    agreement: Agreement,
    *,
    kind: str,
    event: str,
    title: str,
    body: str,
    recipients,
    actor,
    now: datetime,
    submitted_at: datetime | None,
) -> None:
    notify(
        kind=kind,
        title=title,
        body=body,
        url=agreement.get_absolute_url(),
        dedup_base=f"agreement:{agreement.pk}:{_submission(agreement, submitted_at)}:{event}",
        recipients=[u for u in recipients if u is not None and u.pk != actor.pk],
        subject_type="agreement",
        subject_id=agreement.pk,
        now=now,
    )


def _pair(agreement: Agreement) -> str:
    return f"{agreement.requesting_team} → {agreement.provider_team}"


def tell_submitted(agreement: Agreement, *, actor, now: datetime) -> None:
    """Both teams' leads are asked to approve the version."""
    summary = agreement.change_summary.strip()
    _tell(
        agreement,
        kind=NotificationKind.APPROVAL,
        event="submitted",
        title=f"Approve {agreement}: {_pair(agreement)}",
        body=f"{actor.display_name} submitted version {agreement.version} of “"
        f"{agreement.title}” for approval by both teams' leads."
        + (f"\n\nWhat changes: {summary}" if summary else ""),
        recipients=_leads(agreement.provider_team, agreement.requesting_team),
        actor=actor,
        now=now,
        submitted_at=agreement.submitted_at,
    )


def tell_approved(
    agreement: Agreement, *, actor, teams, activated: bool, comment: str, now: datetime
) -> None:
    """Both teams' leads hear of an approval; with both sides in, that the version is
    active (one notification: the activation says who approved last)."""
    sides = " and ".join(str(t) for t in teams)
    note = f"\n\n{comment}" if comment else ""
    if activated:
        title = f"{agreement} is active: {_pair(agreement)}"
        body = (
            f"{actor.display_name} approved for {sides}; both teams have approved, so "
            f"version {agreement.version} of “{agreement.title}” now governs new handoffs."
        )
        event = "activated"
    else:
        waiting = [
            t
            for t in (agreement.provider_team, agreement.requesting_team)
            if t.pk not in {a.team_id for a in agreement.approvals.all()}
        ]
        title = f"{agreement} approved for {sides}"
        body = (
            f"{actor.display_name} approved version {agreement.version} of “"
            f"{agreement.title}” for {sides}; it waits on "
            + " and ".join(f"{t}'s" for t in waiting)
            + " approval."
        )
        event = "approved:" + "-".join(str(t.pk) for t in teams)
    _tell(
        agreement,
        kind=NotificationKind.AGREEMENT,
        event=event,
        title=title,
        body=body + note,
        recipients=_leads(agreement.provider_team, agreement.requesting_team),
        actor=actor,
        now=now,
        submitted_at=agreement.submitted_at,
    )


def tell_changes_requested(
    agreement: Agreement, *, actor, comment: str, submitted_at: datetime | None, now: datetime
) -> None:
    """The version's author hears it is back in draft, and why."""
    _tell(
        agreement,
        kind=NotificationKind.AGREEMENT,
        event="changes-requested",
        title=f"Changes requested on {agreement}",
        body=f"{actor.display_name} sent version {agreement.version} of “{agreement.title}” "
        "back to draft; earlier approvals are cleared." + (f"\n\n{comment}" if comment else ""),
        recipients=[agreement.created_by],
        actor=actor,
        now=now,
        submitted_at=submitted_at,
    )
