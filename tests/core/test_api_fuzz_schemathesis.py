"""The API fuzzed from its own OpenAPI schema, in-process (no server): schemathesis loads
`/api/schema/` from the WSGI application and sends generated requests — valid and invalid —
to every operation and method, each with the API token of a requester, a provider member,
a provider lead or staff (drawn with the case). No request may answer 500, and every status
answered must be one the schema documents for that operation (`apps/core/schema.py`
documents the error answers).

Beyond what the schema describes, the values real clients and attackers send: in about half
of the generated bodies and query strings one value (a string or number at any depth) is
replaced by one of `HOSTILE` — Unicode digits (`²`, `٣`), lone surrogates, NUL, exponent
numbers (`1e1000000`), numbers past every column's range, dates far outside any sane range
(`9999-12-31T23:00`, `0001-01-01T00:00`) — and generated dates reach those years too.

Bounded for CI: `SCHEMATHESIS_MAX_EXAMPLES` (default 25) examples per operation,
derandomized with a fixed seed so that a run is repeatable. A deeper local run adds the
coverage phase (every boundary and type violation the schema allows):
`SCHEMATHESIS_COVERAGE=1 SCHEMATHESIS_MAX_EXAMPLES=200 pytest <this file>`.
"""

import os
from datetime import UTC, timedelta

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from apps.agreements import services as agreement_services
from apps.agreements.models import Agreement, Metric
from apps.handoffs import services as handoff_services
from apps.handoffs.models import Clock
from apps.notifications import services as notification_services
from apps.notifications.models import Kind, Notification
from apps.reviews import services as review_services
from apps.reviews.models import QuarterlyReview, RootCause
from apps.teams.models import Role
from olaportal.wsgi import application
from tests.factories import (
    AgreementFactory,
    MembershipFactory,
    TeamFactory,
    UserFactory,
    standard_targets,
)
from tests.helpers import TRIAGE

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
# Hundreds of cases for the larger bodies: too slow for every run.
COVERAGE = os.environ.get("SCHEMATHESIS_COVERAGE", "") not in ("", "0", "false")
CHECKS = [not_a_server_error, status_code_conformance]
# Each example is sent with the token of one of these, drawn like the rest of the case.
PERSONAS = ["requester", "member", "lead", "staff"]
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"

schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json",
    application,
    config=schemathesis.Config.from_dict(
        {
            "seed": 20260307,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True},
            "phases": {"coverage": {"enabled": COVERAGE}},
        }
    ),
)


# --- hostile values: what a schema generator does not try -----------------------------------

FAR_DATETIMES = [
    "9999-12-31T23:00:00Z",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00-12:00",
    "1969-12-31T23:59:59Z",
    "2038-01-19T03:14:08Z",
]
FAR_DATES = ["9999-12-31", "0001-01-01", "1900-02-28", "2100-12-31"]
HOSTILE = [
    "²",
    "٣",
    "１２",
    "²³⁴",
    "\ud800",  # a lone surrogate: JSON can carry it (escaped), no database can store it
    "a\udfffb",
    "\x00",
    "a\x00b",
    "1e1000000",
    "1e5000",
    "-1e309",
    "99999999999",
    "999999999h",
    "9223372036854775808",
    10**30,
    -(10**30),
    2**31,
    1e308,
    "[" * 200,
    "9999-12-31T23:00",
    "0001-01-01T00:00",
    *FAR_DATETIMES,
    *FAR_DATES,
]
hostile = st.sampled_from(HOSTILE)


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


# A URL carries bytes: a lone surrogate has no UTF-8 form to percent-encode (a client that
# sends its raw bytes gets them decoded as U+FFFD by the server, a character like any other).
hostile_in_query = st.sampled_from(
    [v for v in HOSTILE if not (isinstance(v, str) and _has_surrogate(v))]
)


def _leaves(value, path=()):
    """Paths to the strings and numbers inside a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield path


def _replaced(value, path, new):
    if not path:
        return new
    head, *rest = path
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _replaced(value[head], rest, new)
    return copy


def _sprinkled(value, values=hostile) -> st.SearchStrategy:
    """The value as generated, or with one of its leaves replaced by a hostile value."""
    leaves = list(_leaves(value))
    if not leaves:
        return st.just(value)
    one = st.tuples(st.sampled_from(leaves), values).map(lambda p: _replaced(value, *p))
    return st.one_of(st.just(value), one)


# Generated dates reach the far years as well as the near ones.
schemathesis.openapi.format(
    "date-time",
    st.one_of(
        st.sampled_from(FAR_DATETIMES),
        st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    ),
)
schemathesis.openapi.format(
    "date", st.one_of(st.sampled_from(FAR_DATES), st.dates().map(lambda d: d.isoformat()))
)

# Which objects a path's `{id}` names, by the collection it sits under.
COLLECTIONS = {
    "agreements": "agreements",
    "exception-windows": "windows",
    "handoffs": "handoffs",
    "notifications": "notifications",
    "teams": "teams",
    "calendars": "calendars",
    "reviews": "reviews",
    "breach-reviews": "breach_reviews",
    "action-items": "action_items",
}
# Body fields that name another object: small generated ids become real ones, so that
# requests get past "no such object" into the services' own validation.
BODY_REFERENCES = {
    "agreement": "agreements",
    "assignee": "users",
    "provider_team": "teams",
    "requesting_team": "teams",
    "series": "series",
    "calendar": "calendars",
    "user": "users",
    "owner": "users",
    "clock": "clocks",
    "review": "reviews",
    "breach_review": "breach_reviews",
}


@schema.hook
def flatmap_body(context, body):
    return _sprinkled(body)


@schema.hook
def flatmap_query(context, query):
    return _sprinkled(query, hostile_in_query) if query else st.just(query)


def _persona(username: str, team, role=Role.MEMBER, **extra):
    user = UserFactory(username=username, **extra)
    if team is not None:
        MembershipFactory(team=team, user=user, role=role)
    return user


def _build_world() -> dict:
    """Two agreements' worth of objects in several states, visible to some personas and
    not others, so that generated ids land on real rows as well as on missing ones."""
    now = timezone.now()
    engineering = TeamFactory(name="Engineering", slug="engineering")
    support = TeamFactory(name="Support", slug="support")
    finance = TeamFactory(name="Finance", slug="finance")
    lena = _persona("lena", engineering, Role.LEAD)
    max_ = _persona("max", engineering)
    rita = _persona("rita", support)
    rob = _persona("rob", support, Role.LEAD)
    otto = _persona("otto", finance)
    fred = _persona("fred", finance, Role.LEAD)
    stella = _persona("stella", None, is_staff=True, is_superuser=True)
    active = AgreementFactory(series__provider_team=engineering, series__requesting_team=support)
    # Finance → Engineering: Support's people may not see its handoffs.
    other = AgreementFactory(series__provider_team=engineering, series__requesting_team=finance)
    draft = agreement_services.agreement_create_draft(
        actor=lena,
        provider_team=engineering,
        requesting_team=support,
        title="Next escalation terms",
        targets=standard_targets(),
    )
    in_review = agreement_services.agreement_create_draft(
        actor=rob,
        provider_team=engineering,
        requesting_team=support,
        title="Weekend cover",
        targets=standard_targets(),
    )
    agreement_services.agreement_submit(agreement=in_review, actor=rob)

    def file(agreement, actor, title, priority="P2", at=now):
        return handoff_services.handoff_create(
            actor=actor, agreement=agreement, title=title, priority=priority, triage=TRIAGE, now=at
        )

    new = file(active, rita, "Checkout crashes")
    acknowledged = handoff_services.handoff_acknowledge(
        handoff=file(active, rita, "Login slow"), actor=max_, now=now
    )
    waiting = file(active, rita, "Export fails")
    handoff_services.handoff_start(handoff=waiting, actor=max_, now=now)
    handoff_services.handoff_wait_on_requester(
        handoff=waiting, actor=max_, question="Which account?", now=now
    )
    resolved = file(active, rita, "Typo on invoice")
    handoff_services.handoff_start(handoff=resolved, actor=lena, now=now)
    handoff_services.handoff_resolve(handoff=resolved, actor=lena, resolution="Fixed.", now=now)
    finance_handoff = file(other, otto, "Ledger mismatch")
    window = agreement_services.exception_window_request(
        actor=max_,
        provider_team=engineering,
        start=now + timedelta(days=1),
        end=now + timedelta(days=2),
        reason="Data-centre move",
        affected_customers="None: internal work only.",
        communication_plan="Max tells Support in the weekly call.",
    )
    reviews = _build_reviews(
        now=now,
        leads={"support": rob, "engineering": lena, "finance": fred},
        member=max_,
        requester=rita,
        file=file,
        agreements=(active, other),
    )
    users = [lena, max_, rita, rob, otto, fred, stella]
    for user in users:
        notification_services.notify(
            kind=Kind.OTHER,
            title=f"Hello {user.username}",
            body="",
            url="/",
            dedup_base=f"fuzz:{user.pk}",
            recipients=[user],
            now=now,
        )
    return {
        "tokens": {
            persona: Token.objects.create(user=user).key
            for persona, user in (
                ("requester", rita),
                ("member", max_),
                ("lead", lena),
                ("staff", stella),
            )
        },
        "agreements": [active.pk, draft.pk, in_review.pk, other.pk],
        "handoffs": [h.pk for h in (new, acknowledged, waiting, resolved, finance_handoff)],
        "windows": [window.pk],
        "notifications": list(Notification.objects.values_list("pk", flat=True)),
        "teams": [engineering.pk, support.pk, finance.pk],
        "calendars": [engineering.calendar_id, support.calendar_id, finance.calendar_id],
        "series": list(Agreement.objects.values_list("series_id", flat=True).distinct()),
        "users": [u.pk for u in users],
        **reviews,
    }


def _build_reviews(*, now, leads, member, requester, file, agreements) -> dict:
    """Reviews in several states: Support ↔ Engineering's started (pack frozen) with an
    action item, Finance ↔ Engineering's scheduled; breached clocks of both pairs, one
    reviewed with an action item, the others still to review; and a clock that met its
    target (not a breach)."""
    active, other = agreements
    today = timezone.localdate(now)

    def review_of(agreement):
        return QuarterlyReview.objects.create(
            series=agreement.series,
            agreement=agreement,
            period_start=today - timedelta(days=90),
            period_end=today,
            due_date=today + timedelta(days=7),
        )

    started = review_services.review_start(
        review=review_of(active), actor=leads["engineering"], now=now
    )
    scheduled = review_of(other)

    def breach(agreement, actor, title):
        handoff = file(agreement, actor, title, priority="P1", at=now - timedelta(hours=2))
        handoff_services.handoff_acknowledge(
            handoff=handoff, actor=member, now=now - timedelta(hours=1)
        )
        return Clock.objects.get(handoff=handoff, metric=Metric.ACKNOWLEDGE)

    reviewed = breach(active, requester, "Payments down")
    to_review = breach(active, requester, "Refunds stuck")
    finance_breach = breach(other, leads["finance"], "Ledger offline")
    breach_review = review_services.breach_review_save(
        clock=reviewed,
        actor=member,
        root_cause=RootCause.CAPACITY,
        what_happened="Two engineers off sick.",
        now=now,
    )
    in_time = Clock.objects.filter(
        handoff__agreement=active, breached_at__isnull=True, metric=Metric.ACKNOWLEDGE
    ).first()
    items = [
        review_services.action_item_create(
            actor=leads["engineering"],
            title="Write the on-call runbook",
            owner=member,
            due_date=today + timedelta(days=14),
            review=started,
            now=now,
        ),
        review_services.action_item_create(
            actor=member,
            title="Cover sick leave in the rota",
            owner=requester,
            due_date=today + timedelta(days=21),
            breach_review=breach_review,
            now=now,
        ),
    ]
    return {
        "reviews": [started.pk, scheduled.pk],
        "breach_reviews": [breach_review.pk],
        "action_items": [item.pk for item in items],
        "clocks": [c.pk for c in (reviewed, to_review, finance_breach, in_time) if c],
    }


@pytest.fixture(scope="module")
def _keep_the_test_connection():
    """Django's WSGI handler closes "old" database connections when a request starts and
    ends; inside a test transaction that closes the transaction too (on PostgreSQL). The
    test client switches this off for its requests, and so must these in-process calls."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def world(_keep_the_test_connection, django_db_setup, django_db_blocker):
    """Built once for the module inside a transaction that is rolled back at its end;
    each test runs in a savepoint inside it, so what one test's requests change is undone
    before the next."""
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(PASSWORD_HASHERS=[FAST_HASHER]):
            yield _build_world()
        transaction.set_rollback(True)


def _real(value, ids):
    """A small generated id becomes one of the world's (deterministically); anything else
    — negative, huge, not an integer — is sent as generated."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10_000 and ids:
        return ids[value % len(ids)]
    return value


def _aim(case, world) -> None:
    collection = case.operation.path.split("/")[2]
    if case.path_parameters and "id" in case.path_parameters and collection in COLLECTIONS:
        ids = world[COLLECTIONS[collection]]
        case.path_parameters["id"] = _real(case.path_parameters["id"], ids)
    if isinstance(case.body, dict):
        for field, kind in BODY_REFERENCES.items():
            if field in case.body:
                case.body[field] = _real(case.body[field], world[kind])


@schema.parametrize()
@schema.given(persona=st.sampled_from(PERSONAS))
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_answers_500_and_only_documented_statuses(case, persona, world, db):
    _aim(case, world)
    token = world["tokens"][persona]
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)


def test_the_schema_is_valid_openapi_without_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )


def test_every_operation_documents_the_errors_it_can_answer():
    for path, operations in schema.raw_schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            where = f"{method.upper()} {path}: {sorted(codes)}"
            signed_in = {} not in operation.get("security", [{}])
            if signed_in:
                assert "401" in codes, where
            if "requestBody" in operation:
                assert {"400", "415"} <= codes, where
            if "{" in path:
                assert "404" in codes, where
            if signed_in and method in ("post", "put", "patch"):
                assert "403" in codes, where
                assert "{" not in path or "409" in codes, where


def test_errors_are_documented_in_the_shapes_the_exception_handler_gives():
    paths = schema.raw_schema["paths"]
    components = schema.raw_schema["components"]["schemas"]
    acknowledge = paths["/api/handoffs/{id}/acknowledge/"]["post"]["responses"]
    listing = paths["/api/handoffs/"]["get"]["responses"]
    assert components["ApiError"]["required"] == ["detail"]
    assert "non_field_errors" in components["FieldErrors"]["properties"]
    # A filter the list cannot read: field-keyed messages; a page past the end: a detail.
    assert listing["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FieldErrors"
    }
    assert listing["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ApiError"
    }
    assert "WWW-Authenticate" in acknowledge["401"]["headers"]
