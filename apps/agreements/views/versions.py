"""Agreement version pages: list, detail, compare, the draft editor and the lifecycle
actions. Each state change is a small POST view calling one service."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import User
from apps.core import limits
from apps.core.exceptions import Conflict
from apps.core.views import post_action
from apps.teams.models import Membership, Role, Team

from .. import selectors, services
from ..compare import compare_versions
from ..forms import (
    STEPS,
    TARGETS,
    TRIAGE,
    AgreementForm,
    CommentForm,
    RetireForm,
    TeamPairForm,
    editor_formsets,
    triage_form_class,
)
from ..models import Agreement, Priority, Status

OPEN = (Status.DRAFT, Status.IN_REVIEW)

# --- reading -----------------------------------------------------------------------------


@require_GET
def agreement_list(request):
    filterset = selectors.agreement_list(user=request.user, filters=request.GET, request=request)
    form = filterset.form
    form.fields["status"].widget = forms.CheckboxSelectMultiple(
        choices=form.fields["status"].choices, attrs={"class": "form-check-input"}
    )
    return render(
        request,
        "agreements/agreement_list.html",
        {
            "filter": filterset,
            "agreements": filterset.qs,
            "can_draft": request.user.is_staff or Team.objects.led_by(request.user).exists(),
        },
    )


@require_GET
def agreement_detail(request, pk: int):
    agreement = selectors.agreement_get(user=request.user, pk=pk)
    user = request.user
    versions = list(selectors.agreement_versions(user=user, agreement=agreement))
    can_edit = services.can_edit(user, agreement)
    sides = (
        services.sides_to_approve(user, agreement) if agreement.status == Status.IN_REVIEW else []
    )
    teams = [agreement.provider_team, agreement.requesting_team]
    leads = {}
    for m in Membership.objects.filter(team__in=teams, role=Role.LEAD).select_related("user"):
        leads.setdefault(m.team_id, []).append(m.user)
    approved = {a.team_id: a for a in agreement.approvals.all()}
    has_open_draft = any(v.status in OPEN for v in versions)
    previous = next((v for v in versions if v.pk != agreement.pk), None)
    governing = next((v for v in versions if v.status == Status.ACTIVE), None)
    targets = {t.priority: t for t in agreement.targets.all()}
    context = {
        "agreement": agreement,
        "targets": [targets[p] for p in Priority.values if p in targets],
        "triage_preview": triage_form_class(agreement.triage_fields.all(), disabled=True)(
            prefix="preview"
        ),
        "steps": agreement.escalation_steps.all(),
        "versions": versions,
        "compare_with": previous,
        "governing": governing,
        "sides": [
            {
                "team": team,
                "approval": approved.get(team.pk),
                "leads": leads.get(team.pk, []),
            }
            for team in (agreement.requesting_team, agreement.provider_team)
        ],
        "windows": list(selectors.windows_current_and_upcoming(agreement=agreement)),
        "can_request_window": user.is_staff
        or agreement.provider_team.memberships.filter(user=user).exists(),
        "sides_to_approve": sides,
        "actions": {
            "edit": agreement.status == Status.DRAFT and can_edit,
            "submit": agreement.status == Status.DRAFT and can_edit,
            "approve": agreement.status == Status.IN_REVIEW and bool(sides),
            "request_changes": agreement.status == Status.IN_REVIEW and can_edit,
            "amend": agreement.status == Status.ACTIVE and can_edit and not has_open_draft,
            "retire": agreement.status in (Status.ACTIVE, *OPEN) and can_edit,
        },
        "comment_form": CommentForm(),
        "retire_form": RetireForm(),
    }
    return render(request, "agreements/agreement_detail.html", context)


@require_GET
def agreement_compare(request, pk: int):
    agreement = selectors.agreement_get(user=request.user, pk=pk)
    versions = list(selectors.agreement_versions(user=request.user, agreement=agreement))
    other_id = request.GET.get("with")
    if not other_id:
        other = next((v for v in versions if v.pk != agreement.pk), None)
        if other is None:
            messages.info(request, "This agreement has only one version: nothing to compare.")
            return redirect(agreement)
        return redirect(f"{reverse('agreements:compare', args=[pk])}?with={other.pk}")
    other_pk = limits.parse_id(other_id)
    if other_pk is None:
        raise Http404("No such version.")
    other = selectors.agreement_get(user=request.user, pk=other_pk)
    if other.series_id != agreement.series_id:
        raise Http404("Not a version of the same agreement.")
    # Older on the left, newer on the right, whichever way the link was written.
    left, right = sorted([agreement, other], key=lambda a: a.version)
    return render(
        request,
        "agreements/agreement_compare.html",
        {
            "agreement": agreement,
            "left": left,
            "right": right,
            "sections": compare_versions(left, right),
            "versions": versions,
            "only_changes": request.GET.get("only") == "changes",
            "other": other,
        },
    )


# --- the draft editor --------------------------------------------------------------------


def _step_users(agreement: Agreement | None):
    users = User.objects.filter(is_active=True).order_by("first_name", "username")
    if agreement is None:
        return users
    teams = [agreement.series.provider_team_id, agreement.series.requesting_team_id]
    return users.filter(memberships__team__in=teams).distinct()


def _map_errors(exc: ValidationError, main_forms: list[forms.Form], formsets: dict) -> None:
    """Put each service error on the field it concerns: plain keys on the main forms,
    `targets.N.field` on the N-th form that was sent to the service."""
    if not hasattr(exc, "error_dict"):
        main_forms[-1].add_error(None, exc.messages)
        return
    sent = {name: formset.sent_forms() for name, formset in formsets.items()}
    for key, errors in exc.message_dict.items():
        part, _, rest = key.partition(".")
        if part in formsets:
            index, _, field = rest.partition(".")
            forms_sent = sent[part]
            if index.isdigit() and int(index) < len(forms_sent):
                form = forms_sent[int(index)]
                form.add_error(field if field in form.fields else None, errors)
            else:
                formsets[part].add_non_form_error(errors)
            continue
        for form in main_forms:
            if key in form.fields:
                form.add_error(key, errors)
                break
        else:
            main_forms[-1].add_error(None, errors)


def _parts(formsets: dict) -> dict:
    return {
        "targets": formsets[TARGETS].service_data(),
        "triage_fields": formsets[TRIAGE].service_data(),
        "steps": formsets[STEPS].service_data(),
    }


def _editor_context(**context) -> dict:
    formsets = context.pop("formsets")
    context.update(
        targets_formset=formsets[TARGETS],
        triage_formset=formsets[TRIAGE],
        steps_formset=formsets[STEPS],
    )
    return context


@require_http_methods(["GET", "POST"])
def agreement_new(request):
    user = request.user
    if not (user.is_staff or Team.objects.led_by(user).exists()):
        raise PermissionDenied("Only a team lead may draft an agreement.")
    if request.method == "POST":
        team_form = TeamPairForm(request.POST, user=user)
        form = AgreementForm(request.POST, creating=True)
        formsets = editor_formsets(request.POST, users=_step_users(None))
        if team_form.is_valid():
            sides = [team_form.cleaned_data[s].pk for s in ("provider_team", "requesting_team")]
            if not (user.is_staff or Team.objects.led_by(user).filter(pk__in=sides).exists()):
                raise PermissionDenied("You must lead the provider or the requesting team.")
        valid = [team_form.is_valid(), form.is_valid()]
        valid += [formset.is_valid() for formset in formsets.values()]
        if all(valid):
            try:
                agreement = services.agreement_create_draft(
                    actor=user,
                    provider_team=team_form.cleaned_data["provider_team"],
                    requesting_team=team_form.cleaned_data["requesting_team"],
                    **_parts(formsets),
                    **form.service_fields(),
                )
            except ValidationError as exc:
                _map_errors(exc, [team_form, form], formsets)
            else:
                messages.success(
                    request,
                    f"Draft “{agreement.title}” saved. Submit it for approval when it is ready.",
                )
                return redirect(agreement)
    else:
        team_form = TeamPairForm(user=user)
        form = AgreementForm(creating=True)
        formsets = editor_formsets(users=_step_users(None))
    return render(
        request,
        "agreements/agreement_form.html",
        _editor_context(team_form=team_form, form=form, formsets=formsets, agreement=None),
    )


@require_http_methods(["GET", "POST"])
def agreement_edit(request, pk: int):
    agreement = selectors.agreement_get(user=request.user, pk=pk)
    if not services.can_edit(request.user, agreement):
        raise PermissionDenied("Only a lead of the provider or requesting team may edit it.")
    if agreement.status != Status.DRAFT:
        messages.error(
            request,
            f"Version {agreement.version} is {agreement.get_status_display().lower()}; "
            "only a draft can be edited.",
        )
        return redirect(agreement)
    users = _step_users(agreement)
    if request.method == "POST":
        form = AgreementForm(request.POST, instance=Agreement.objects.get(pk=pk))
        formsets = editor_formsets(request.POST, agreement=agreement, users=users)
        valid = [form.is_valid()] + [formset.is_valid() for formset in formsets.values()]
        if all(valid):
            try:
                services.agreement_update_draft(
                    agreement=agreement,
                    actor=request.user,
                    **_parts(formsets),
                    **form.service_fields(),
                )
            except ValidationError as exc:
                _map_errors(exc, [form], formsets)
            except Conflict as exc:
                messages.error(request, exc.message)
                return redirect(agreement)
            else:
                messages.success(request, f"Draft version {agreement.version} saved.")
                return redirect(agreement)
    else:
        form = AgreementForm(instance=agreement)
        formsets = editor_formsets(agreement=agreement, users=users)
    return render(
        request,
        "agreements/agreement_form.html",
        _editor_context(form=form, formsets=formsets, agreement=agreement, team_form=None),
    )


# --- lifecycle actions -------------------------------------------------------------------


def _act(request, pk: int, action, success, then=lambda result: result) -> HttpResponse:
    """Run one service on a visible version (through core.views.post_action: refusals
    become messages); go on to the version the user should see next (the new draft after
    amending)."""
    agreement = selectors.agreement_get(user=request.user, pk=pk)
    # Actions belong to the two teams' leads (and staff): check before the state, so
    # that an outsider always gets 403 rather than a word about the current status.
    if not services.can_edit(request.user, agreement):
        raise PermissionDenied("Only a lead of the provider or requesting team may do that.")
    return post_action(
        request, act=lambda: action(agreement), done=success, back=agreement, then=then
    )


@require_POST
def agreement_submit(request, pk: int):
    return _act(
        request,
        pk,
        lambda a: services.agreement_submit(agreement=a, actor=request.user),
        lambda a: f"Version {a.version} submitted: both teams' leads are asked to approve it.",
    )


@require_POST
def agreement_approve(request, pk: int):
    form = CommentForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    agreement = selectors.agreement_get(user=request.user, pk=pk)
    sides = services.sides_to_approve(request.user, agreement)

    def success(a: Agreement) -> str:
        names = " and ".join(str(t) for t in sides)
        text = f"Approved for {names}." if names else "Approved."
        if a.status == Status.ACTIVE:
            text += f" Version {a.version} is now active."
        else:
            text += " Waiting for the other team's lead."
        return text

    return _act(
        request,
        pk,
        lambda a: services.agreement_approve(agreement=a, actor=request.user, comment=comment),
        success,
    )


@require_POST
def agreement_request_changes(request, pk: int):
    form = CommentForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    return _act(
        request,
        pk,
        lambda a: services.agreement_request_changes(
            agreement=a, actor=request.user, comment=comment
        ),
        lambda a: f"Version {a.version} is back in draft; approvals so far were cleared.",
    )


@require_POST
def agreement_amend(request, pk: int):
    return _act(
        request,
        pk,
        lambda a: services.agreement_amend(agreement=a, actor=request.user),
        lambda a: (
            f"Version {a.version} opened as a draft. The active version keeps "
            "governing work until this one is approved."
        ),
        then=lambda r: (
            reverse("agreements:edit", kwargs={"pk": r.pk})
            if r.pk != pk and r.status == Status.DRAFT
            else r
        ),
    )


@require_POST
def agreement_retire(request, pk: int):
    form = RetireForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _act(
        request,
        pk,
        lambda a: services.agreement_retire(agreement=a, actor=request.user, reason=reason),
        lambda a: f"Version {a.version} retired.",
    )
