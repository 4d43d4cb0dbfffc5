"""The authorization matrix: every URL pattern of the URLconf (pages, htmx partials, the
API, the admin), requested by each persona, answers the status written down here.

Personas (one world for the module): anonymous; the outsider otto (Finance); the
requester rita (Support); the provider member max and the provider lead lena
(Engineering); staff stella. The world holds one object of each kind a path names: an
active Support → Engineering agreement, a draft of the same pair, a new handoff filed by
rita, an exception window requested by max, a notification for each person, the teams'
calendars and slugs, the agreement's quarterly review (started by lena, in progress) with
an action item owned by rita, a breached clock of a second handoff with its breach
review, and one row of every model the admin shows.

`EXPECTED` maps a URL name to its path arguments (keys of the world) and, per method, the
status each persona gets. Writes are sent with an empty body (form-encoded for pages,
`{}` as JSON for the API): who may not see the object gets 404, who sees it but may not
act 403, who may act
whatever the action gives an empty form (a 302 after the service ran or refused with a
message, a 200/400 re-rendered form, a 409). `HTMX` is a POST with
`HX-Request: true` (the queue's and the inbox's in-page actions, the review's what-if). The
API router makes no `.json` twin of its routes (`?format=json` chooses the format).

Where the code does not yet do what the table says, the case is listed in `KNOWN_GAPS`
and runs as a strict xfail: fixing the code makes it fail until the entry is deleted.

Admin URLs are generated from `admin.site._registry` (index, each model's changelist and
change page) and every other admin URL follows one pattern rule (`_admin_expectation`):
nobody but staff gets past the admin's sign-in. Staff open each page on the first row of
its model, so a newly registered model needs a row in `_build_world`.

To add a URL: add its name to `EXPECTED` (and an object to `_build_world` if its path
names one). A URL name without an expectation, or an expectation whose name is gone from
the URLconf, fails `test_every_url_has_an_expectation`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apps.agreements import services as agreement_services
from apps.agreements.models import Agreement, Metric
from apps.calendars.models import Holiday
from apps.handoffs import services as handoff_services
from apps.handoffs.models import Clock, SweepRun
from apps.notifications import services as notification_services
from apps.notifications.models import Channel, Kind, Notification
from apps.reviews import services as review_services
from apps.reviews.models import QuarterlyReview, RootCause
from apps.teams.models import Role
from tests.factories import (
    AgreementFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
    standard_targets,
)

ANONYMOUS, OUTSIDER, REQUESTER, MEMBER, LEAD, STAFF = PERSONAS = (
    "anonymous",
    "outsider",
    "requester",
    "member",
    "lead",
    "staff",
)
SIGNED_IN = PERSONAS[1:]


@dataclass(frozen=True)
class Redirect:
    """A 302 whose Location is the page named `to` (query string aside)."""

    to: str

    def __repr__(self) -> str:
        return f"302→{self.to}"


@dataclass(frozen=True)
class Refused:
    """A 302 back to the page with an error message: the page refused the action."""

    def __repr__(self) -> str:
        return "302+error"


SIGN_IN = Redirect("accounts:login")
ADMIN_SIGN_IN = Redirect("admin:login")
REFUSED = Refused()
Expect = int | Redirect | Refused | frozenset


def _statuses(anonymous: Expect, default: Expect, overrides: dict) -> dict[str, Expect]:
    unknown = set(overrides) - set(PERSONAS)
    assert not unknown, f"not personas: {unknown}"
    return {ANONYMOUS: anonymous, **dict.fromkeys(SIGNED_IN, default), **overrides}


def page(default: Expect = 200, **overrides: Expect) -> dict[str, Expect]:
    """A page: anonymous is sent to sign in, the signed-in get `default` unless named."""
    return _statuses(SIGN_IN, default, overrides)


def api(default: Expect = 200, **overrides: Expect) -> dict[str, Expect]:
    """An API endpoint: anonymous gets 401 (JSON, never a redirect)."""
    return _statuses(401, default, overrides)


def everyone(status: Expect, **overrides: Expect) -> dict[str, Expect]:
    return _statuses(status, status, overrides)


def only(who: tuple[str, ...], status: Expect, *, others: Expect) -> dict[str, Expect]:
    """`status` for the personas in `who`, `others` for the rest of the signed-in."""
    return page(others, **dict.fromkeys(who, status))


@dataclass(frozen=True)
class Row:
    kwargs: dict[str, str] = field(default_factory=dict)  # path argument → key of the world
    methods: dict[str, dict[str, Expect]] = field(default_factory=dict)


def row(**spec) -> Row:
    """`row(pk="handoff", GET=page(...), POST=...)`: upper case are methods."""
    methods = {k: v for k, v in spec.items() if k.isupper()}
    kwargs = {k: v for k, v in spec.items() if not k.isupper()}
    return Row(kwargs, methods)


POST_ONLY = page(405)  # GET on a POST-only view: anonymous is sent to sign in first
API_POST_ONLY = api(405)
# Leads of either team of the agreement, and staff.
AGREEMENT_LEADS = (LEAD, STAFF)


def handoff_action(side: str, on_empty: Expect) -> Row:
    """A handoff's POST action on the new handoff: the outsider does not see it (404); a
    member of the side that may not take the action gets 403 (the provider side works the
    handoff, the requester side reopens it; staff count as both); who may act gets
    `on_empty`, and from the queue (htmx) always the re-rendered row, 200."""
    refused = {"provider": (REQUESTER,), "requester": (MEMBER, LEAD), "either": ()}[side]
    post = page(on_empty, outsider=404, **dict.fromkeys(refused, 403))
    htmx = page(200, outsider=404, **dict.fromkeys(refused, 403))
    return row(pk="handoff", GET=POST_ONLY, POST=post, HTMX=htmx)


EXPECTED: dict[str, Row] = {
    # --- pages -------------------------------------------------------------------------
    "dashboard": row(GET=page()),
    "accounts:login": row(
        GET=everyone(302, anonymous=200),
        POST=everyone(302, anonymous=200),  # anonymous: the form again, with its errors
    ),
    "accounts:logout": row(GET=page(405), POST=everyone(Redirect("accounts:login"))),
    "accounts:profile": row(GET=page(), POST=page()),  # empty form: shown again
    "accounts:token-regenerate": row(GET=POST_ONLY, POST=page(302)),
    "accounts:token-revoke": row(GET=POST_ONLY, POST=page(302)),
    "teams:list": row(GET=page()),
    "teams:detail": row(slug="provider_slug", GET=page()),
    # Engineering's settings (webhook, email): its lead and staff; an empty form clears them.
    "teams:settings": row(
        slug="provider_slug",
        GET=POST_ONLY,
        POST=only((LEAD, STAFF), 302, others=403),
    ),
    "calendars:detail": row(pk="calendar", GET=page()),
    # Engineering's calendar: its lead (and staff) edit it; everyone else may only read.
    "calendars:edit": row(
        pk="calendar",
        GET=only((LEAD, STAFF), 200, others=403),
        POST=only((LEAD, STAFF), 200, others=403),
    ),
    "agreements:list": row(GET=page()),
    "agreements:new": row(
        GET=only((LEAD, STAFF), 200, others=403),
        POST=only((LEAD, STAFF), 200, others=403),
    ),
    "agreements:windows": row(GET=page()),
    "agreements:window-new": row(GET=page(), POST=page()),
    "agreements:window-approve": row(
        pk="window", GET=POST_ONLY, POST=only((LEAD, STAFF), 302, others=403)
    ),
    "agreements:window-reject": row(
        pk="window", GET=POST_ONLY, POST=only((LEAD, STAFF), 302, others=403)
    ),
    # Max requested the window: he may withdraw it, as may its team's lead and staff.
    "agreements:window-end": row(
        pk="window", GET=POST_ONLY, POST=only((MEMBER, LEAD, STAFF), 302, others=403)
    ),
    # The draft: only the two teams' members (and staff) see it; leads act on it.
    "agreements:detail": row(pk="draft", GET=page(outsider=404)),
    "agreements:edit": row(
        pk="draft",
        GET=page(403, outsider=404, lead=200, staff=200),
        POST=page(403, outsider=404, lead=200, staff=200),
    ),
    # A single version: nothing to compare, back to the agreement.
    "agreements:compare": row(pk="draft", GET=page(302, outsider=404)),
    "agreements:submit": row(
        pk="draft", GET=POST_ONLY, POST=page(403, outsider=404, lead=302, staff=302)
    ),
    # Approving is for the teams' leads only, not staff (DESIGN: both leads approve).
    # A draft cannot be approved or sent back: the leads get a message (302).
    "agreements:approve": row(pk="draft", GET=POST_ONLY, POST=page(403, outsider=404, lead=302)),
    "agreements:request-changes": row(
        pk="draft", GET=POST_ONLY, POST=page(403, outsider=404, lead=302, staff=302)
    ),
    "agreements:retire": row(
        pk="draft", GET=POST_ONLY, POST=page(403, outsider=404, lead=302, staff=302)
    ),
    # The active version is public: the outsider sees it, so may-not-act is a 403.
    "agreements:amend": row(
        pk="agreement", GET=POST_ONLY, POST=only(AGREEMENT_LEADS, 302, others=403)
    ),
    # Without `?agreement=` both methods show the list of agreements to file under.
    "handoffs:new": row(GET=page(), POST=page()),
    "handoffs:detail": row(pk="handoff", GET=page(outsider=404)),
    "handoffs:acknowledge": handoff_action("provider", on_empty=302),
    "handoffs:start": handoff_action("provider", on_empty=302),
    "handoffs:action-plan": handoff_action("provider", on_empty=400),
    "handoffs:wait": handoff_action("provider", on_empty=400),
    # Resuming a new handoff: the status does not allow it, said in a message.
    "handoffs:resume": handoff_action("either", on_empty=302),
    "handoffs:resolve": handoff_action("provider", on_empty=400),
    # The agreement's default: the requesting team validates (closes) the resolution.
    "handoffs:close": handoff_action("requester", on_empty=302),
    "handoffs:reopen": handoff_action("requester", on_empty=400),
    "handoffs:cancel": handoff_action("either", on_empty=400),
    "handoffs:assign": handoff_action("provider", on_empty=302),
    "handoffs:claim": handoff_action("provider", on_empty=302),
    "handoffs:priority": handoff_action("either", on_empty=400),
    "handoffs:comment": handoff_action("either", on_empty=400),
    # Anyone who may see the handoff watches it or stops; the outsider does not see it.
    "handoffs:watch": row(pk="handoff", GET=POST_ONLY, POST=page(302, outsider=404)),
    "handoffs:unwatch": row(pk="handoff", GET=POST_ONLY, POST=page(302, outsider=404)),
    "queues:index": row(GET=page()),
    # Engineering's inbound queue and Support's outgoing one: their members and staff.
    "queues:inbound": row(slug="provider_slug", GET=only((MEMBER, LEAD, STAFF), 200, others=404)),
    "queues:outgoing": row(slug="requester_slug", GET=only((REQUESTER, STAFF), 200, others=404)),
    "notifications:inbox": row(GET=page()),
    # Rita's notification: nobody else's inbox holds it, staff's neither.
    "notifications:mark-read": row(
        pk="notification",
        GET=POST_ONLY,
        POST=page(404, requester=302),
        HTMX=page(404, requester=200),
    ),
    "notifications:mark-all-read": row(GET=POST_ONLY, POST=page(302)),
    "notifications:preferences": row(GET=page(), POST=page(302)),
    # Opening marks read and follows the link: only the recipient's own.
    "notifications:open": row(pk="notification", GET=page(404, requester=302)),
    # The polled bell: a signed-out page is told to stop polling (286), not redirected.
    "notifications:bell": row(GET=everyone(200, anonymous=286)),
    # Engineering's webhook kinds: its lead and staff choose them.
    "notifications:team-preferences": row(
        slug="provider_slug", GET=POST_ONLY, POST=page(403, lead=302, staff=302)
    ),
    # Reports: every signed-in person; the figures count only what they may see.
    "reports:index": row(GET=page()),
    "reports:compliance-csv": row(GET=page()),
    "reports:breach-causes-csv": row(GET=page()),
    "reports:trend-csv": row(GET=page()),
    # Reviews. The review (in progress) and the breach are Support ↔ Engineering's: the
    # outsider does not see them (404). Who sees a review but may not act on it (members
    # who lead neither team, and staff, who read every review but do not act as a team's
    # lead) gets a 403; who may act gets what the empty form gives: a 302 after the
    # service ran (or refused with a message, REFUSED), the form again (400).
    "reviews:index": row(GET=page()),
    "reviews:detail": row(pk="review", GET=page(outsider=404)),
    # Lena may start it, but it has started: she is told so (an error message too).
    "reviews:start": row(pk="review", GET=POST_ONLY, POST=page(403, outsider=404, lead=REFUSED)),
    "reviews:edit": row(pk="review", GET=POST_ONLY, POST=page(403, outsider=404, lead=302)),
    "reviews:targets": row(pk="review", GET=POST_ONLY, POST=page(403, outsider=404, lead=400)),
    # The what-if replays typed targets and changes nothing: whoever sees the review.
    "reviews:what_if": row(
        pk="review", GET=POST_ONLY, POST=page(200, outsider=404), HTMX=page(200, outsider=404)
    ),
    # Lena signs for Engineering.
    "reviews:sign_off": row(pk="review", GET=POST_ONLY, POST=page(403, outsider=404, lead=302)),
    "reviews:action_add": row(pk="review", GET=POST_ONLY, POST=page(403, outsider=404, lead=400)),
    # Rita's action item, given by lena: its owner and the review's lead reopen it.
    "reviews:action_done": row(
        pk="action_item",
        GET=POST_ONLY,
        POST=page(403, outsider=404, requester=302, lead=302),
    ),
    # Breaches: Engineering's members and lead write the review, Support (and staff) read.
    "reviews:breaches": row(GET=page()),
    "reviews:breach": row(
        clock_pk="breached_clock",
        GET=page(outsider=404),
        POST=page(403, outsider=404, member=400, lead=400),
    ),
    "reviews:breach_action_add": row(
        clock_pk="breached_clock",
        GET=POST_ONLY,
        POST=page(403, outsider=404, member=400, lead=400),
    ),
    # --- API: session-authenticated here; anonymous is a JSON 401 ---------------------------
    "api-root": row(GET=api()),
    "api-token": row(GET=everyone(405), POST=everyone(400)),
    # The schema and its docs hold no data: public, like the sign-in page.
    "api-schema": row(GET=everyone(200)),
    "api-docs": row(GET=everyone(200)),
    "team-list": row(GET=api()),
    # Engineering's lead (and staff) set its webhook and email; `{}` changes nothing.
    "team-detail": row(pk="engineering", GET=api(), PATCH=api(403, lead=200, staff=200)),
    "calendar-list": row(GET=api()),
    "calendar-detail": row(pk="calendar", GET=api()),
    "agreement-list": row(GET=api(), POST=api(400)),
    "agreement-detail": row(
        pk="draft",
        GET=api(outsider=404),
        PUT=api(403, outsider=404, lead=400, staff=400),
        PATCH=api(403, outsider=404, lead=200, staff=200),
    ),
    "agreement-submit": row(
        pk="draft", GET=API_POST_ONLY, POST=api(403, outsider=404, lead=200, staff=200)
    ),
    "agreement-approve": row(pk="draft", GET=API_POST_ONLY, POST=api(403, outsider=404, lead=409)),
    "agreement-request-changes": row(
        pk="draft", GET=API_POST_ONLY, POST=api(403, outsider=404, lead=409, staff=409)
    ),
    "agreement-retire": row(
        pk="draft", GET=API_POST_ONLY, POST=api(403, outsider=404, lead=200, staff=200)
    ),
    "agreement-amend": row(pk="agreement", GET=API_POST_ONLY, POST=api(403, lead=201, staff=201)),
    "exception-window-list": row(GET=api(), POST=api(400)),
    "exception-window-detail": row(pk="window", GET=api()),
    "exception-window-approve": row(
        pk="window", GET=API_POST_ONLY, POST=api(403, lead=200, staff=200)
    ),
    "exception-window-reject": row(
        pk="window", GET=API_POST_ONLY, POST=api(403, lead=200, staff=200)
    ),
    "exception-window-end": row(
        pk="window", GET=API_POST_ONLY, POST=api(403, member=200, lead=200, staff=200)
    ),
    "handoff-list": row(GET=api(), POST=api(400)),
    "handoff-detail": row(pk="handoff", GET=api(outsider=404)),
    "handoff-events": row(pk="handoff", GET=api(outsider=404)),
    "handoff-acknowledge": row(
        pk="handoff", GET=API_POST_ONLY, POST=api(200, outsider=404, requester=403)
    ),
    "handoff-start": row(
        pk="handoff", GET=API_POST_ONLY, POST=api(200, outsider=404, requester=403)
    ),
    "handoff-action-plan": row(
        pk="handoff", GET=API_POST_ONLY, POST=api(400, outsider=404, requester=403)
    ),
    "handoff-wait": row(
        pk="handoff", GET=API_POST_ONLY, POST=api(400, outsider=404, requester=403)
    ),
    "handoff-resume": row(pk="handoff", GET=API_POST_ONLY, POST=api(409, outsider=404)),
    "handoff-resolve": row(
        pk="handoff", GET=API_POST_ONLY, POST=api(400, outsider=404, requester=403)
    ),
    "handoff-close": row(
        pk="handoff", GET=API_POST_ONLY, POST=api(409, outsider=404, member=403, lead=403)
    ),
    "handoff-reopen": row(
        pk="handoff", GET=API_POST_ONLY, POST=api(400, outsider=404, member=403, lead=403)
    ),
    "handoff-cancel": row(pk="handoff", GET=API_POST_ONLY, POST=api(400, outsider=404)),
    "handoff-assign": row(
        pk="handoff", GET=API_POST_ONLY, POST=api(400, outsider=404, requester=403)
    ),
    "handoff-comment": row(pk="handoff", GET=API_POST_ONLY, POST=api(400, outsider=404)),
    "handoff-priority": row(pk="handoff", GET=API_POST_ONLY, POST=api(400, outsider=404)),
    "handoff-watch": row(pk="handoff", GET=API_POST_ONLY, POST=api(200, outsider=404)),
    "handoff-unwatch": row(pk="handoff", GET=API_POST_ONLY, POST=api(200, outsider=404)),
    "notification-list": row(GET=api()),
    "notification-detail": row(pk="notification", GET=api(404, requester=200)),
    "notification-read": row(pk="notification", GET=API_POST_ONLY, POST=api(404, requester=200)),
    "notification-read-all": row(GET=API_POST_ONLY, POST=api(200)),
    "notification-preferences": row(GET=api(), PATCH=api(200)),
    "notification-team-preferences": row(
        slug="provider_slug", GET=api(), PATCH=api(403, lead=200, staff=200)
    ),
    # The report's figures are restricted to what the caller may see (and bad parameters
    # are a 400: `test_the_report_api_refuses_bad_parameters_to_everyone_signed_in`).
    "api-report-compliance": row(GET=api(), POST=api(405)),
    # Reviews: leads of either team write; members who lead neither, and staff, may not
    # (403, asked before the body is read); the outsider does not see them (404).
    "review-list": row(GET=api()),
    "review-detail": row(
        pk="review", GET=api(outsider=404), PATCH=api(403, outsider=404, lead=200)
    ),
    "review-start": row(pk="review", GET=API_POST_ONLY, POST=api(403, outsider=404, lead=409)),
    "review-sign-off": row(pk="review", GET=API_POST_ONLY, POST=api(403, outsider=404, lead=200)),
    "review-what-if": row(pk="review", GET=API_POST_ONLY, POST=api(200, outsider=404)),
    # A breach review names its clock in the body: an empty one is a 400 for everyone.
    "breach-review-list": row(GET=api(), POST=api(400)),
    "breach-review-detail": row(
        pk="breach_review",
        GET=api(outsider=404),
        PATCH=api(200, outsider=404, requester=403, staff=403),
    ),
    "breach-review-to-review": row(GET=api()),
    "action-item-list": row(GET=api(), POST=api(400)),
    "action-item-detail": row(pk="action_item", GET=api(outsider=404)),
    # Rita owns the item and lena leads: `done` missing, 400; max and staff may not, 403.
    "action-item-done": row(
        pk="action_item", GET=API_POST_ONLY, POST=api(400, outsider=404, member=403, staff=403)
    ),
}

# Expectations the code does not meet yet: run as strict xfails, so that the fix shows up
# as an XPASS failure telling you to delete the entry.
KNOWN_GAPS: dict[tuple[str, str, str], str] = {}

# URL patterns not tested here, each with the reason. (Static files are served by
# whitenoise's middleware, not by the URLconf; there is no debug toolbar.)
EXCLUDED: dict[str, str] = {}


# --- the URLconf -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    key: str  # `namespace:name`, or the route for an unnamed pattern
    name: str | None
    route: str
    arguments: tuple[str, ...]  # named path arguments
    positional: int  # unnamed regex groups


def _walk(resolver: URLResolver, prefix: str = "", namespace: str = ""):
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from _walk(entry, route, inner)
            continue
        assert isinstance(entry, URLPattern)
        regex = entry.pattern.regex
        name = entry.name and (f"{namespace}:{entry.name}" if namespace else entry.name)
        yield Pattern(
            key=name or route,
            name=name,
            route=route,
            arguments=tuple(regex.groupindex),
            positional=regex.groups - len(regex.groupindex),
        )


def url_patterns() -> dict[str, list[Pattern]]:
    """Every pattern of the URLconf by key (patterns sharing a name share a key)."""
    patterns: dict[str, list[Pattern]] = {}
    for pattern in _walk(get_resolver()):
        patterns.setdefault(pattern.key, []).append(pattern)
    return patterns


PATTERNS = url_patterns()


def _is_admin(key: str, patterns: list[Pattern]) -> bool:
    return key.startswith("admin:") or patterns[0].route.startswith("admin/")


# --- the admin ---------------------------------------------------------------------------------

ADMIN_MODELS = {f"{m._meta.app_label}_{m._meta.model_name}": m for m in admin.site._registry}


def admin_only(staff: Expect) -> dict[str, Expect]:
    """Anonymous goes to the portal's sign-in first (then on to the admin); signed in
    without staff status, to the admin's own sign-in page."""
    return everyone(ADMIN_SIGN_IN, anonymous=SIGN_IN, staff=staff)


def site_only(staff: Expect) -> dict[str, Expect]:
    """The admin site's own pages are exempt from the portal's sign-in: anonymous goes
    straight to the admin's sign-in page, like the signed-in without staff status."""
    return everyone(ADMIN_SIGN_IN, staff=staff)


STAFF_ONLY = admin_only(200)
# Staff may be refused adding or deleting some models (history is never deleted): the
# matrix asks only that non-staff never get in; what staff may do is the admin's business.
STAFF_ADD_OR_REFUSED = admin_only(frozenset({200, 403}))
ADMIN_SPECIAL: dict[str, dict[str, Expect]] = {
    "admin:index": site_only(200),
    # The admin's own sign-in: a signed-in non-staff person is shown the form again.
    "admin:login": everyone(200, staff=302),
    # POST only; the signed-in without staff status are sent to the index (then sign-in).
    "admin:logout": everyone(Redirect("admin:index"), anonymous=ADMIN_SIGN_IN, staff=405),
    "admin:password_change": site_only(200),
    "admin:password_change_done": site_only(200),
    "admin:jsi18n": site_only(200),
    "admin:autocomplete": site_only(403),  # no field to complete
    "admin:view_on_site": site_only(302),  # to the agreement's page
    "admin:app_list": site_only(200),
    "admin:auth_user_password_change": STAFF_ONLY,
}
# Admin URL names that do not start with their model's `app_model_`.
ADMIN_NAME_MODELS = {"admin:auth_user_password_change": "accounts_user"}


def _admin_model(key: str, route: str):
    """The registered model an admin URL is about (longest `app_model_` prefix)."""
    if key in ADMIN_NAME_MODELS:
        return ADMIN_MODELS[ADMIN_NAME_MODELS[key]]
    tail = key.removeprefix("admin:") if key.startswith("admin:") else None
    if tail is None:  # an unnamed pattern: admin/<app>/<model>/…
        parts = route.split("/")
        tail = f"{parts[1]}_{parts[2]}_" if len(parts) > 3 else ""
    matches = [p for p in ADMIN_MODELS if tail.startswith(f"{p}_")]
    return ADMIN_MODELS[max(matches, key=len)] if matches else None


def _admin_expectation(key: str, route: str) -> dict[str, Expect]:
    """The pattern rule for admin URLs: nobody but staff gets past the admin's sign-in;
    staff get the page (add/delete: the page or a 403 where the admin forbids it)."""
    if key in ADMIN_SPECIAL:
        return ADMIN_SPECIAL[key]
    if key.startswith("admin/"):  # unnamed: `<pk>/` redirects to the change page
        if key.endswith("(?P<url>.*)$"):
            return site_only(404)  # the catch-all: no such admin page
        return admin_only(302)
    if key.endswith(("_add", "_delete")):
        return STAFF_ADD_OR_REFUSED
    return STAFF_ONLY  # changelist, change, history, simple_history


# --- the world -----------------------------------------------------------------------------------


def _persona(username: str, team, role=Role.MEMBER, **extra):
    user = UserFactory(username=username, **extra)
    if team is not None:
        MembershipFactory(team=team, user=user, role=role)
    return user


def _session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _build_world() -> dict:
    now = timezone.now()
    engineering = TeamFactory(name="Engineering", slug="engineering")
    support = TeamFactory(name="Support", slug="support")
    finance = TeamFactory(name="Finance", slug="finance")
    users = {
        OUTSIDER: _persona("otto", finance),
        REQUESTER: _persona("rita", support),
        MEMBER: _persona("max", engineering),
        LEAD: _persona("lena", engineering, Role.LEAD),
        STAFF: _persona("stella", None, is_staff=True, is_superuser=True),
    }
    _persona("rob", support, Role.LEAD)
    agreement = AgreementFactory(series__provider_team=engineering, series__requesting_team=support)
    draft = agreement_services.agreement_create_draft(
        actor=users[LEAD],
        provider_team=engineering,
        requesting_team=support,
        title="Weekend cover",
        targets=standard_targets(),
    )
    handoff = handoff_services.handoff_create(
        actor=users[REQUESTER],
        agreement=agreement,
        title="Checkout crashes",
        priority="P3",
        triage={"steps": "1. open the app 2. crash", "environment": "production"},
        now=now,
    )
    window = agreement_services.exception_window_request(
        actor=users[MEMBER],
        provider_team=engineering,
        start=now + timedelta(days=1),
        end=now + timedelta(days=2),
        reason="Data-centre move",
        affected_customers="None: internal work only.",
        communication_plan="Max tells Support in the weekly call.",
    )
    for user in users.values():
        notification_services.notify(
            kind=Kind.OTHER,
            title=f"Hello {user.username}",
            body="",
            url="/",
            dedup_base=f"matrix:{user.pk}",
            recipients=[user],
            now=now,
        )
    notification = Notification.objects.get(recipient=users[REQUESTER], channel=Channel.IN_APP)
    reviews = _build_reviews(users, agreement, now)
    # One row of every model the admin shows that the objects above did not make.
    Group.objects.create(name="Auditors")
    Token.objects.create(user=users[REQUESTER])
    Holiday.objects.create(calendar=engineering.calendar, date=now.date(), name="Company day")
    SweepRun.objects.create(started_at=now, duration_ms=12)
    Client().post(reverse("accounts:login"), {"username": "otto", "password": "wrong"})
    notification_services.preference_set(
        user=users[REQUESTER], kind=Kind.DIGEST, channel=Channel.EMAIL, enabled=False
    )
    return {
        # One signed-in session per persona, reused by every test (a test's changes to it,
        # signing out included, are rolled back with the rest).
        "sessions": {persona: _session_of(user) for persona, user in users.items()},
        "provider_slug": engineering.slug,
        "requester_slug": support.slug,
        "engineering": engineering.pk,
        "calendar": engineering.calendar_id,
        "agreement": agreement.pk,
        "draft": draft.pk,
        "handoff": handoff.pk,
        "window": window.pk,
        "notification": notification.pk,
        **reviews,
    }


def _build_reviews(users: dict, agreement: Agreement, now) -> dict:
    """The agreement's quarterly review, started by lena (pack and recommendations frozen),
    with an action item lena gave rita; and a breached clock (a P1 acknowledged an hour
    late, its 30 minutes 24×7 ran out) reviewed by max."""
    today = timezone.localdate(now)
    review = QuarterlyReview.objects.create(
        series=agreement.series,
        agreement=agreement,
        period_start=today - timedelta(days=90),
        period_end=today,
        due_date=today + timedelta(days=7),
    )
    review = review_services.review_start(review=review, actor=users[LEAD], now=now)
    item = review_services.action_item_create(
        actor=users[LEAD],
        title="Write the on-call runbook",
        owner=users[REQUESTER],
        due_date=today + timedelta(days=14),
        review=review,
        now=now,
    )
    late = handoff_services.handoff_create(
        actor=users[REQUESTER],
        agreement=agreement,
        title="Payments down",
        priority="P1",
        triage={"steps": "1. pay 2. error", "environment": "production"},
        now=now - timedelta(hours=2),
    )
    handoff_services.handoff_acknowledge(
        handoff=late, actor=users[MEMBER], now=now - timedelta(hours=1)
    )
    clock = Clock.objects.get(handoff=late, metric=Metric.ACKNOWLEDGE)
    assert clock.breached_at is not None
    breach_review = review_services.breach_review_save(
        clock=clock,
        actor=users[MEMBER],
        root_cause=RootCause.CAPACITY,
        what_happened="Two engineers off sick; the P1 waited in the queue.",
        now=now,
    )
    return {
        "review": review.pk,
        "action_item": item.pk,
        "breached_clock": clock.pk,
        "breach_review": breach_review.pk,
    }


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module inside a transaction rolled back at its end; each test
    runs in a savepoint inside it, so what one request changes is undone before the next."""
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
            yield _build_world()
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def shared_client():
    """One test client for the module: a new one builds the middleware again, and
    WhiteNoise's finders then scan every static file (most of a request's time)."""
    return Client()


# --- building and sending the requests -----------------------------------------------------------


def _admin_path(pattern: Pattern, persona: str, world: dict) -> str:
    """The admin URL with real arguments: the first row of its model (its first history
    record for simple_history's pages); `view_on_site` points at the active agreement."""
    model = _admin_model(pattern.key, pattern.route)
    obj = model._default_manager.order_by("pk").first() if model is not None else None
    names_object = bool(pattern.positional) or {"object_id", "id"} & set(pattern.arguments)
    if model is not None and names_object and obj is None and persona == STAFF:
        pytest.fail(f"No {model._meta.label} in the matrix world: add one to _build_world.")
    # Non-staff never get past the admin's sign-in: for them the object does not matter.
    pk = str(obj.pk) if obj is not None else "0"
    values = {"object_id": pk, "id": pk, "app_label": "handoffs", "url": "no-such-page/"}
    if pattern.name == "admin:view_on_site":
        values["content_type_id"] = str(ContentType.objects.get_for_model(Agreement).pk)
        values["object_id"] = str(world["agreement"])
    if pattern.name is None:
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)\$?", lambda m: values[m.group(1)], pattern.route)
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], path)
        return "/" + path
    args = []
    if pattern.positional:  # simple_history's `^([^/]+)/history/([^/]+)/$`
        history = obj.history.order_by("history_id").first() if obj is not None else None
        args = [pk, str(history.history_id if history is not None else 0)]
    kwargs = {name: values[name] for name in pattern.arguments}
    return reverse(pattern.name, args=args or None, kwargs=kwargs or None)


def _path(key: str, world: dict, persona: str) -> str:
    patterns = PATTERNS[key]
    if _is_admin(key, patterns):
        return _admin_path(patterns[0], persona, world)
    kwargs = {arg: world[ref] for arg, ref in EXPECTED[key].kwargs.items()}
    return reverse(key, kwargs=kwargs or None)


def _send(client: Client, method: str, path: str):
    if method == "GET":
        return client.get(path)
    if path.startswith("/api/"):
        return client.generic(method, path, "{}", content_type="application/json")
    if method == "HTMX":
        return client.post(path, {}, HTTP_HX_REQUEST="true")
    return client.generic(method, path, "", content_type="application/x-www-form-urlencoded")


def _cases():
    for key, patterns in PATTERNS.items():
        if key in EXCLUDED:
            continue
        if _is_admin(key, patterns):
            methods = {"GET": _admin_expectation(key, patterns[0].route)}
        elif key in EXPECTED:
            methods = EXPECTED[key].methods
        else:
            continue  # reported by test_every_url_has_an_expectation
        for method in methods:
            for persona in PERSONAS:
                gap = KNOWN_GAPS.get((key, method, persona))
                marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
                yield pytest.param(
                    key,
                    method,
                    persona,
                    methods[method][persona],
                    id=f"{key} {method} {persona}",
                    marks=marks,
                )


@pytest.mark.parametrize(("key", "method", "persona", "expected"), list(_cases()))
def test_url_answers_each_persona_as_expected(
    world, shared_client, db, key, method, persona, expected
):
    client = shared_client
    client.cookies.clear()
    if persona != ANONYMOUS:
        client.cookies[settings.SESSION_COOKIE_NAME] = world["sessions"][persona]
    path = _path(key, world, persona)
    response = _send(client, method, path)
    got = response.status_code
    where = f"{method} {path} as {persona}"
    if isinstance(expected, Redirect):
        assert got == 302, f"{where}: {got}, expected a redirect to {expected.to}"
        target = reverse(expected.to)
        location = response["Location"]
        assert location.split("?")[0] == target, f"{where}: redirected to {location}"
    elif isinstance(expected, Refused):
        assert got == 302, f"{where}: {got}, expected a redirect with an error message"
        levels = [m.level for m in get_messages(response.wsgi_request)]
        assert messages.ERROR in levels, f"{where}: redirected without an error message"
    elif isinstance(expected, frozenset):
        assert got in expected, f"{where}: {got}, expected one of {sorted(expected)}"
    else:
        assert got == expected, f"{where}: {got}, expected {expected}"


def test_every_url_has_an_expectation():
    """A URL added to the URLconf without a line in EXPECTED fails here, and so does a
    line whose URL is gone (admin URLs follow their pattern rule)."""
    names = {key for key, patterns in PATTERNS.items() if not _is_admin(key, patterns)}
    names -= set(EXCLUDED)
    missing = sorted(names - set(EXPECTED))
    stale = sorted(set(EXPECTED) - names)
    assert not missing, f"URLs without an expectation in EXPECTED: {missing}"
    assert not stale, f"EXPECTED names URLs the URLconf no longer has: {stale}"


def test_expectations_cover_every_persona():
    for key, spec in EXPECTED.items():
        assert spec.methods, key
        for method, statuses in spec.methods.items():
            assert set(statuses) == set(PERSONAS), (key, method)
    for key, method, persona in KNOWN_GAPS:
        assert persona in EXPECTED[key].methods[method], (key, method, persona)


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_report_api_refuses_bad_parameters_to_everyone_signed_in(
    world, shared_client, db, persona
):
    client = shared_client
    client.cookies.clear()
    if persona != ANONYMOUS:
        client.cookies[settings.SESSION_COOKIE_NAME] = world["sessions"][persona]
    url = reverse("api-report-compliance")
    response = client.get(url, {"group_by": "weather", "from": "2026-13-01"})
    assert response.status_code == (401 if persona == ANONYMOUS else 400), response.content[:300]


def test_the_api_has_no_format_suffix_routes():
    """A `.json` twin of each route (DRF's format suffixes, switched off in the router)
    would pass `format` to every action, and an action without that argument answers 500
    there; `?format=json` chooses the format instead."""
    suffixed = sorted(
        p.route for patterns in PATTERNS.values() for p in patterns if "format" in p.arguments
    )
    assert not suffixed


def test_the_admin_rule_covers_every_registered_model():
    """Each registered model's changelist and change page is in the matrix."""
    keys = {key for key, patterns in PATTERNS.items() if _is_admin(key, patterns)}
    for prefix in ADMIN_MODELS:
        assert f"admin:{prefix}_changelist" in keys
        assert f"admin:{prefix}_change" in keys
