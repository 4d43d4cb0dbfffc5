"""The pages fuzzed like the API: every form of the site (pages and htmx partials) is
posted hostile values by every persona, and none may answer 500 or write half of anything.

How the forms are found: each page of the authorization matrix (`EXPECTED`) is fetched as
each persona, and every `<form method="post">` and `hx-post` in it is read (its action
and the names and values of its fields). Every POST route of the URLconf is then fuzzed —
with the fields of the forms that post to it, or, for a route no page shows a form for,
with the names every form uses. Values are hypothesis-drawn: the form's own value (so that
the rest of the form passes and the hostile field reaches the service) or something no
person types — huge and deeply nested strings, Unicode digits (`²`, `٣`), a lone UTF-16
surrogate sent as its (invalid) UTF-8 bytes, NUL, exponent numbers (`1e1000000`), dates far
outside any sane range (`9999-12-31T23:00`, `0001-01-01T00:00`), markup, repeated keys —
while the persona's time zone is any of the IANA zones (the extremes most often).

What must hold for each request: a status below 500; and when the answer is a refusal (a
4xx, or a redirect carrying only an error message), no table has gained or lost a row.

Bounded for CI: `PAGE_FUZZ_EXAMPLES` examples per route (default 6), derandomized, so a
run is repeatable; the module runs in well under 90 s. A deeper local run:
`PAGE_FUZZ_EXAMPLES=200 pytest tests/core/test_page_fuzz.py`.
"""

from __future__ import annotations

import os
import zoneinfo
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote, urljoin, urlsplit

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.messages import get_messages
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.accounts.models import User
from tests.core.test_authorization_matrix import (
    ANONYMOUS,
    EXPECTED,
    FAST_HASHERS,
    SIGNED_IN,
    _build_world,
    _path,
)

MAX_EXAMPLES = int(os.environ.get("PAGE_FUZZ_EXAMPLES", "6"))

# Routes whose POST is not a form of the site.
NOT_FORMS = {
    "accounts:login": "the sign-in form, fuzzed as anonymous by its own tests",
}


@dataclass(frozen=True)
class Known:
    """A 500 the fuzzer found that the code does not handle yet: who posts which value in
    which field. The fuzzer leaves that field alone on that route (so that it keeps looking
    for other bugs there), and `test_a_known_500_still_answers_500` posts the exact input
    as a strict xfail: the fix shows up as an XPASS telling you to delete the entry."""

    persona: str
    field: str
    value: str
    reason: str


KNOWN_500: dict[str, Known] = {}


# --- hostile values ----------------------------------------------------------------------

HUGE = "x" * 100_000
HOSTILE = [
    "",
    " ",
    HUGE,
    "[" * 60_000,
    "{" * 5_000 + "}" * 5_000,
    "²",
    "٣",
    "１２",
    "²³⁴",
    "\ud800",  # a lone surrogate: sent as the bytes ED A0 80, which are not UTF-8
    "a\ud800b",
    "\x00",
    "abc\x00def",
    "1e1000000",
    "1e5000",
    "-1e309",
    "NaN",
    "inf",
    "99999999999",
    "999999999h",
    "-1",
    "0",
    "2147483648",
    "9223372036854775808",
    "9999-12-31T23:00",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "10000-01-01T00:00",
    "9999-12-31",
    "0001-01-01",
    "2026-02-30",
    "24:00",
    "<script>alert(1)</script>",
    '<meta http-equiv=refresh content="0;url=https://evil.example">',
    "javascript:alert(1)",
    "http://169.254.169.254/latest/meta-data/",
    "' OR 1=1 --",
    "%00",
    "\u202e\u0645",
]
ZONES = sorted(zoneinfo.available_timezones())
EXTREME_ZONES = ["Etc/GMT+12", "Etc/GMT-14", "Pacific/Kiritimati", "Pacific/Chatham", "UTC"]

hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=8),
    st.builds(lambda a, b: f"{a}e{b}", st.integers(-9, 99), st.integers(-(10**7), 10**7)),
    st.builds(
        lambda y, m, d, h: f"{y:04d}-{m:02d}-{d:02d}T{h:02d}:00",
        st.sampled_from([1, 1000, 1969, 1970, 2038, 2100, 2101, 9999]),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 24),
    ),
)
zones = st.one_of(st.sampled_from(EXTREME_ZONES), st.sampled_from(ZONES))


# --- finding the forms -------------------------------------------------------------------


@dataclass
class Form:
    action: str  # the path (and query) it posts to
    fields: list[tuple[str, str]] = field(default_factory=list)  # name, value as shown
    found_on: str = ""


class _FormReader(HTMLParser):
    """Every post form and hx-post of a page, with its fields' names and shown values."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self._open: list[Form] = []
        self._textarea: tuple[Form, str] | None = None
        self._select: tuple[Form, str] | None = None
        self._select_value: str | None = None

    def _target(self, url: str | None) -> str:
        return urljoin(self.page, url or self.page)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if "hx-post" in a:
            form = Form(self._target(a["hx-post"]), found_on=self.page)
            if self._open:
                form.fields = self._open[-1].fields  # the enclosing form's fields
            if a.get("name"):
                form.fields.append((a["name"], a.get("value", "")))
            self.forms.append(form)
        if tag == "form":
            post = a.get("method", "get").lower() == "post"
            form = Form(self._target(a.get("action")), found_on=self.page)
            self._open.append(form)
            if post:
                self.forms.append(form)
            return
        if not self._open or not a.get("name"):
            return
        form = self._open[-1]
        if tag == "input":
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                if kind == "radio" and not any(n == a["name"] for n, _ in form.fields):
                    form.fields.append((a["name"], a.get("value", "on")))
                return
            if kind not in ("submit", "button", "image", "reset", "file"):
                form.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "textarea":
            self._textarea = (form, a["name"])
            form.fields.append((a["name"], ""))
        elif tag == "select":
            self._select, self._select_value = (form, a["name"]), None
        elif tag == "option" and self._select is not None:
            if self._select_value is None or "selected" in a:
                self._select_value = a.get("value", "")
        elif tag == "button" and a.get("type", "submit") == "submit":
            form.fields.append((a["name"], a.get("value", "")))

    def handle_data(self, data):
        if self._textarea is not None:
            form, name = self._textarea
            form.fields[-1] = (name, form.fields[-1][1] + data)

    def handle_endtag(self, tag):
        if tag == "form" and self._open:
            self._open.pop()
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select is not None:
            form, name = self._select
            form.fields.append((name, self._select_value or ""))
            self._select = None


def _route(url: str) -> str | None:
    """The URL name a form posts to; None for the API, the admin and foreign sites."""
    parts = urlsplit(url)
    if parts.netloc and parts.netloc not in ("testserver",):
        return None
    try:
        match = resolve(parts.path)
    except Resolver404:
        return None
    name = match.view_name
    if name.startswith("admin:") or parts.path.startswith(("/api/", "/admin/")):
        return None
    return name


def _is_page(key: str) -> bool:
    return not key.startswith("admin") and not key.startswith("api") and ":" in key


POST_KEYS = sorted(
    key
    for key, spec in EXPECTED.items()
    if _is_page(key) and {"POST", "HTMX"} & set(spec.methods) and key not in NOT_FORMS
)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The authorization matrix's world (one object of each kind, a session per persona),
    built once inside a transaction rolled back at the end of the module."""
    with django_db_blocker.unblock(), transaction.atomic():
        with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
            yield _build_world()
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def shared_client():
    return Client()


def _sign_in(client, world: dict, persona: str) -> None:
    client.cookies.clear()
    if persona != ANONYMOUS:
        client.cookies[settings.SESSION_COOKIE_NAME] = world["sessions"][persona]


@pytest.fixture(scope="module")
def discovered(world, shared_client, django_db_blocker) -> dict[str, list[Form]]:
    """The site's post forms by the URL name they post to, read from every page each
    persona can open (and the filing form of the active agreement)."""
    found: dict[str, list[Form]] = {}
    pages = [
        (k, spec.methods["GET"])
        for k, spec in EXPECTED.items()
        if _is_page(k) and "GET" in spec.methods and "csv" not in k
    ]
    with django_db_blocker.unblock():
        for persona in SIGNED_IN:
            _sign_in(shared_client, world, persona)
            paths = [_path(k, world, persona) for k, get in pages if get[persona] == 200]
            paths.append(f"/handoffs/new/?agreement={world['agreement']}")
            for path in paths:
                response = shared_client.get(path)
                if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                    continue
                reader = _FormReader(path)
                reader.feed(response.content.decode())
                for form in reader.forms:
                    name = _route(form.action)
                    if name is None:
                        continue
                    known = found.setdefault(name, [])
                    signature = (urlsplit(form.action).path, tuple(n for n, _ in form.fields))
                    if all(
                        (urlsplit(f.action).path, tuple(n for n, _ in f.fields)) != signature
                        for f in known
                    ):
                        known.append(form)
    return found


# --- what must hold ---------------------------------------------------------------------


def _row_counts() -> tuple[int, ...]:
    """Rows of every table but the sessions (a signed-in request may touch its own)."""
    tables = [
        m._meta.db_table
        for m in apps.get_models()
        if m._meta.managed and not m._meta.proxy and m is not Session
    ]
    quoted = connection.ops.quote_name
    # Table names come from the models, quoted: nothing typed reaches this SQL.
    sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quoted(t)})" for t in tables)  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(cursor.fetchone())


def _refused(response) -> bool:
    """A 4xx, or a redirect whose only messages are errors: nothing may have been written."""
    if response.status_code >= 400:
        return True
    if response.status_code != 302:
        return False
    levels = {m.level for m in get_messages(response.wsgi_request)}
    return messages.ERROR in levels and messages.SUCCESS not in levels


def _encode(pairs: list[tuple[str, str]]) -> str:
    """application/x-www-form-urlencoded, as a client that does not care sends it: a lone
    surrogate goes as its three bytes (ED A0 80), which no UTF-8 decoder accepts."""

    def q(text: str) -> str:
        return quote(text.encode("utf-8", "surrogatepass"), safe="")

    return "&".join(f"{q(name)}={q(value)}" for name, value in pairs)


@pytest.fixture(scope="module")
def figures(request):
    """What the module did, printed at its end: examples, routes, forms."""
    counts = {"examples": 0, "routes": 0, "forms": 0}
    yield counts
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None and counts["examples"]:
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"\npage fuzz: {counts['examples']} requests over {counts['routes']} POST routes "
                f"({counts['forms']} distinct forms found on the pages), "
                f"{MAX_EXAMPLES} examples per route"
            )


def _user_of(world: dict, persona: str) -> int:
    session = Session.objects.get(session_key=world["sessions"][persona])
    return int(session.get_decoded()["_auth_user_id"])


def _forms_of(key: str, world: dict, discovered: dict) -> list[Form]:
    """The forms that post to `key`; for a route no page shows a form for, one with the
    names every form uses (empty), posted to its path."""
    forms = discovered.get(key) or []
    if not forms:
        names = sorted({n for fs in discovered.values() for f in fs for n, _ in f.fields})
        forms = [Form(_path(key, world, "staff"), [(n, "") for n in names], found_on="(none)")]
    return forms


@pytest.mark.parametrize("key", POST_KEYS)
def test_no_form_answers_500_or_writes_half(key, world, shared_client, discovered, figures, db):
    forms = _forms_of(key, world, discovered)
    known = KNOWN_500.get(key)
    if known is not None:  # its field keeps the value the page gives it
        forms = [Form(f.action, [p for p in f.fields if p[0] != known.field]) for f in forms]
    htmx = "HTMX" in EXPECTED[key].methods
    users = {persona: _user_of(world, persona) for persona in SIGNED_IN}
    seen = {"examples": 0}

    @given(data=st.data())
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        # No shrinking: the failure message carries the exact request already, and a
        # shrink replays hundreds of requests.
        phases=[Phase.explicit, Phase.generate],
        report_multiple_bugs=False,
    )
    def post_hostile_values(data):
        form = data.draw(st.sampled_from(forms), label="form")
        persona = data.draw(st.sampled_from(SIGNED_IN), label="persona")
        zone = data.draw(zones, label="time zone")
        # Mostly one hostile field in an otherwise sensible form, so that it gets past the
        # form's other checks and reaches the service; sometimes every field at once.
        pairs = list(form.fields)
        if pairs and data.draw(st.integers(0, 3), label="one field (else all)"):
            index = data.draw(st.integers(0, len(pairs) - 1), label="field")
            pairs[index] = (pairs[index][0], data.draw(hostile_text, label=pairs[index][0]))
        else:
            for index, (name, shown) in enumerate(pairs):
                pairs[index] = (
                    name,
                    data.draw(st.one_of(st.just(shown), hostile_text), label=name),
                )
        # Now and then a field twice, or one no form has.
        if pairs and data.draw(st.booleans(), label="repeat a field"):
            pairs.append((data.draw(st.sampled_from(pairs))[0], data.draw(hostile_text)))
        if data.draw(st.booleans(), label="an unknown field"):
            pairs.append(("not_a_field", data.draw(hostile_text)))
        headers = {"HTTP_HX_REQUEST": "true"} if htmx and data.draw(st.booleans()) else {}
        seen["examples"] += 1
        figures["examples"] += 1
        with transaction.atomic():
            User.objects.filter(pk=users[persona]).update(time_zone=zone)
            _sign_in(shared_client, world, persona)
            before = _row_counts()
            response = shared_client.generic(
                "POST",
                form.action,
                _encode(pairs),
                content_type="application/x-www-form-urlencoded",
                **headers,
            )
            where = f"POST {form.action} as {persona} in {zone} with {pairs!r:.2000}"
            assert response.status_code < 500, where
            if _refused(response):
                assert _row_counts() == before, f"{where}: refused, but rows changed"
            transaction.set_rollback(True)

    post_hostile_values()
    assert seen["examples"] >= 1
    figures["routes"] += 1
    figures["forms"] += len(discovered.get(key) or [])


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(key, marks=pytest.mark.xfail(reason=known.reason, strict=True))
        for key, known in KNOWN_500.items()
    ],
)
def test_a_known_500_still_answers_500(key, world, shared_client, discovered, db):
    known = KNOWN_500[key]
    form = _forms_of(key, world, discovered)[0]
    pairs = [(n, v) for n, v in form.fields if n != known.field] + [(known.field, known.value)]
    _sign_in(shared_client, world, known.persona)
    response = shared_client.generic(
        "POST", form.action, _encode(pairs), content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code < 500, f"POST {form.action} as {known.persona}: {known.reason}"


def test_the_fuzzer_finds_the_forms_of_the_site(discovered, db):
    """Every POST route but a few is reached through a form some page shows: a route no
    page links any more (or a page the matrix cannot open) shows up here."""
    missing = sorted(set(POST_KEYS) - set(discovered))
    # Routes posted only by a script, an email link or a page state the world lacks.
    assert len(missing) <= len(POST_KEYS) // 3, f"forms found for too few routes: {missing}"
