"""Filing a handoff: the create page under the agreement version in force, with its
triage template."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.views.decorators.http import require_http_methods

from apps.agreements.models import Agreement
from apps.core import limits
from apps.teams.models import Team

from .. import services
from ..forms import (
    HandoffForm,
    triage_form,
)
from ..models import Handoff

# --- filing a handoff --------------------------------------------------------------------


def _agreement_for_filing(user, agreement_id: str = "", series_id: str = "") -> Agreement:
    """The agreement version to file under: visible to the user and one their team hands
    work over through (403 otherwise). A filing link names the series (`?series=`) and
    files under its active version; an older `?agreement=` link of a version since
    superseded does the same, so saved links survive amendments."""
    pk = limits.parse_id(series_id or agreement_id)  # "²" passes isdigit() and fails int()
    if pk is None:
        raise Http404("No such agreement.")
    versions = (
        Agreement.objects.visible_to(user)
        .select_related("series__provider_team", "series__requesting_team")
        .prefetch_related("targets", "triage_fields")
    )
    if series_id:
        agreement = versions.filter(series_id=pk).active().first()
        if agreement is None:
            # A series without an active version (retired, or still a draft): say which.
            agreement = versions.filter(series_id=pk).order_by("-version").first()
        if agreement is None:
            raise Http404("No such agreement.")
    else:
        agreement = get_object_or_404(versions, pk=pk)
        if agreement.status == "superseded":
            agreement = versions.filter(series_id=agreement.series_id).active().first() or agreement
    requesting = agreement.series.requesting_team
    if not (user.is_staff or Team.objects.of_member(user).filter(pk=requesting.pk).exists()):
        raise PermissionDenied(f"Only members of {requesting} file handoffs under this agreement.")
    return agreement


def _agreements_to_file_under(user):
    agreements = Agreement.objects.visible_to(user).active()
    if not user.is_staff:
        agreements = agreements.filter(
            series__requesting_team__in=Team.objects.of_member(user).values("pk")
        )
    return agreements.select_related("series__provider_team", "series__requesting_team").order_by(
        "series__provider_team__name", "title"
    )


def _put_create_errors(exc: ValidationError, form: forms.Form, triage: forms.Form) -> None:
    """Service errors onto the field they concern: `triage.<key>` on the triage form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, errors in exc.message_dict.items():
        part, _, name = key.partition(".")
        if part == "triage":
            triage.add_error(name if name in triage.fields else None, errors)
        elif key in form.fields:
            form.add_error(key, errors)
        else:
            form.add_error(None, errors)


@require_http_methods(["GET", "POST"])
def handoff_new(request):
    agreement_id = request.GET.get("agreement", "")
    series_id = request.GET.get("series", "")
    if not (agreement_id or series_id):
        return render(
            request,
            "handoffs/handoff_choose.html",
            {"agreements": _agreements_to_file_under(request.user)},
        )
    agreement = _agreement_for_filing(request.user, agreement_id, series_id)
    if request.method == "GET" and agreement.status != "active":
        # On POST the service says so on the form, keeping what was typed.
        messages.error(
            request,
            f"Version {agreement.version} of “{agreement.title}” is "
            f"{agreement.get_status_display().lower()}: file under an active agreement.",
        )
        return redirect("handoffs:new")
    if request.method == "POST":
        form = HandoffForm(request.POST, agreement=agreement)
        triage = triage_form(agreement, request.POST)
        valid = [form.is_valid(), triage.is_valid()]
        if all(valid):
            data = form.cleaned_data
            try:
                handoff = services.handoff_create(
                    actor=request.user,
                    agreement=agreement,
                    title=data["title"],
                    priority=data["priority"],
                    triage=triage.cleaned_data,
                    description=data["description"],
                    customer_segment=data["customer_segment"],
                    impacted_customers=data["impacted_customers"],
                )
            except ValidationError as exc:
                _put_create_errors(exc, form, triage)
            else:
                messages.success(request, _filed_message(handoff, agreement))
                return redirect(handoff)
    else:
        form = HandoffForm(agreement=agreement)
        triage = triage_form(agreement)
    return render(
        request,
        "handoffs/handoff_form.html",
        {"agreement": agreement, "form": form, "triage_form": triage},
    )


def _filed_message(handoff: Handoff, agreement: Agreement) -> str:
    text = f"Handoff #{handoff.pk} filed with {agreement.series.provider_team}."
    if handoff.due_at:
        due = timezone.localtime(handoff.due_at)
        text += f" The first target falls due {date_format(due, 'D j M, H:i T')}."
    return text
