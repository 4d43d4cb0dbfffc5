"""Agreements, handoffs and reviews are never deleted (they are retired, cancelled or
closed), and neither are notifications, the record of what was said to whom. Nothing in
the admin or the API may delete a row of theirs: this walks everything registered, so an
admin or endpoint added later is held to the same rule."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from apps.agreements.models import Agreement
from apps.handoffs import services as handoff_services
from apps.handoffs.models import Handoff
from apps.notifications.models import Kind, Notification
from apps.notifications.services import notify
from tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db

KEPT_APPS = {"agreements", "handoffs", "reviews"}
KEPT_MODELS = {Notification}
KEPT_API_MODULES = tuple(f"apps.{app}." for app in (*KEPT_APPS, "notifications"))


def kept(model) -> bool:
    return model._meta.app_label in KEPT_APPS or model in KEPT_MODELS


def kept_admins():
    return sorted(
        (
            (model, model_admin)
            for model, model_admin in admin.site._registry.items()
            if kept(model)
        ),
        key=lambda pair: pair[0]._meta.label,
    )


def api_views():
    """Every DRF view the URLconf serves: (route, view class, {method: action} or None)."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    for route, callback in walk(get_resolver().url_patterns):
        cls = getattr(callback, "cls", None)
        if cls is not None:
            yield route, cls, getattr(callback, "actions", None)


@pytest.fixture
def history(provider_team, requesting_team, requester, provider_member):
    """An agreement with a handoff: its clocks, timeline events and notifications."""
    agreement = AgreementFactory(
        series__provider_team=provider_team, series__requesting_team=requesting_team
    )
    handoff = handoff_services.handoff_create(
        actor=requester,
        agreement=agreement,
        title="Checkout crashes",
        priority="P2",
        triage={"steps": "1. pay 2. crash", "environment": "production"},
    )
    notify(
        kind=Kind.BREACH,
        title=f"#{handoff.pk} breached",
        body="Acknowledge target missed.",
        url=handoff.get_absolute_url(),
        dedup_base=f"breach:{handoff.pk}",
        recipients=[provider_member],
        now=timezone.now(),
    )
    return {"agreement": agreement, "handoff": handoff}


@pytest.fixture
def staff_request(staff):
    request = RequestFactory().get("/admin/")
    request.user = staff
    return request


def test_the_walk_finds_the_admins_it_must_check():
    models = {model for model, _ in kept_admins()}
    assert {Agreement, Handoff, Notification} <= models


def test_no_admin_of_kept_models_may_delete(history, staff_request):
    refused = []
    for model, model_admin in kept_admins():
        objects = [None, *model._default_manager.all()[:3]]
        for obj in objects:
            if model_admin.has_delete_permission(staff_request, obj):
                refused.append(f"{model._meta.label} admin deletes {obj!r}")
            # Inline rows of a kept object are its history too (clocks, events,
            # approvals); a draft's parts are the one thing still being written.
            if obj is not None:
                for inline in model_admin.get_inline_instances(staff_request, obj):
                    if inline.has_delete_permission(staff_request, obj):
                        refused.append(f"{model._meta.label} inline {type(inline).__name__}")
        if "delete_selected" in model_admin.get_actions(staff_request):
            refused.append(f"{model._meta.label} admin has “delete selected”")
    assert refused == []


def test_staff_cannot_delete_in_the_admin(client, staff, history):
    client.force_login(staff)
    notification = Notification.objects.first()
    for obj in (history["agreement"], history["handoff"], notification):
        opts = obj._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[obj.pk])
        assert client.post(url, {"post": "yes"}).status_code == 403, url
        assert type(obj).objects.filter(pk=obj.pk).exists()

    changelist = reverse("admin:handoffs_handoff_changelist")
    response = client.post(
        changelist, {"action": "delete_selected", "_selected_action": [history["handoff"].pk]}
    )
    assert Handoff.objects.filter(pk=history["handoff"].pk).exists()
    assert response.status_code in (200, 302)


def test_no_api_view_of_kept_models_accepts_delete():
    checked, deleting = [], []
    for route, cls, actions in api_views():
        if not cls.__module__.startswith(KEPT_API_MODULES):
            continue
        checked.append(route)
        if actions is not None:  # a viewset: the router maps HTTP methods to actions
            if "delete" in actions:
                deleting.append(route)
        elif hasattr(cls, "delete"):
            deleting.append(route)
    assert any("agreements" in r for r in checked)
    assert any("handoffs" in r for r in checked)
    assert deleting == []


def test_delete_on_the_api_is_not_allowed(client, staff, history):
    client.force_login(staff)
    notification = Notification.objects.first()
    for url in (
        f"/api/agreements/{history['agreement'].pk}/",
        f"/api/handoffs/{history['handoff'].pk}/",
        f"/api/notifications/{notification.pk}/",
    ):
        assert client.delete(url).status_code == 405, url
    assert Agreement.objects.filter(pk=history["agreement"].pk).exists()
    assert Handoff.objects.filter(pk=history["handoff"].pk).exists()
    assert Notification.objects.filter(pk=notification.pk).exists()
