"""Read queries for agreements; every one starts from `visible_to(user)`."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from .filters import AgreementFilter
from .models import Agreement, ExceptionWindow


def agreement_list(*, user, filters: dict | None = None, request=None):
    queryset = Agreement.objects.visible_to(user).for_list().order_by("title", "-version")
    filterset = AgreementFilter(filters or {}, queryset=queryset, request=request)
    return filterset


def agreement_get(*, user, pk: int) -> Agreement:
    return get_object_or_404(Agreement.objects.visible_to(user).for_detail(), pk=pk)


def agreement_versions(*, user, agreement: Agreement):
    """Every version of the agreement's series the user may see, newest first."""
    return (
        Agreement.objects.visible_to(user)
        .filter(series_id=agreement.series_id)
        .select_related("created_by")
        .order_by("-version")
    )


def windows_current_and_upcoming(*, agreement: Agreement | None = None, team=None, now=None):
    """Approved or requested windows that have not ended, for an agreement or a team."""
    status = ExceptionWindow.Status
    from django.utils import timezone

    now = now or timezone.now()
    if agreement is not None:
        queryset = ExceptionWindow.objects.covering(agreement)
    else:
        queryset = ExceptionWindow.objects.filter(provider_team=team)
    return (
        queryset.filter(end__gt=now)
        .exclude(status__in=[status.REJECTED, status.CANCELLED])
        .select_related("requested_by", "decided_by", "series", "provider_team")
        .order_by("start")
    )
