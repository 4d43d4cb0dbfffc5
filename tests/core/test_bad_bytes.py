"""A NUL character in the address (path or query string, percent-encoded as %00) is a 400
before any view runs: PostgreSQL cannot take one in a query parameter, and the database
driver's error would otherwise be a 500 wherever a view passes the text to a query. API
addresses answer JSON `{"detail": …}`, pages a plain 400 page; both keep the security
headers. Runs on SQLite and on PostgreSQL (DATABASE_URL), where the 500s were."""

import pytest
from django.test import Client

from tests.factories import AgreementFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(provider_member, requesting_team):
    AgreementFactory(
        series__provider_team=provider_member.memberships.get().team,
        series__requesting_team=requesting_team,
    )
    client = Client()
    client.force_login(provider_member)
    return client


def assert_json_400(response):
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/breach-reviews/to-review/?team=%00",
        "/api/breach-reviews/to-review/?team=eng%00ineering",
        "/api/handoffs/?status=new&q=%00",
        "/api/teams/?slug=%00",
        "/api/teams/%00/",
        "/api/agreements/?title=a%00b",
    ],
)
def test_an_api_address_holding_a_nul_is_a_json_400(signed_in, url):
    assert_json_400(signed_in.get(url))


def test_an_api_write_to_an_address_holding_a_nul_is_a_json_400(signed_in):
    response = signed_in.post("/api/handoffs/?x=%00", {}, content_type="application/json")
    assert_json_400(response)


def test_anonymous_callers_get_the_same_400(db):
    assert_json_400(Client().get("/api/breach-reviews/to-review/?team=%00"))


@pytest.mark.parametrize(
    "url",
    [
        "/reviews/breaches/?team=%00",
        "/handoffs/?q=%00",
        "/teams/engineering%00/",
        "/queues/?team=+%00+",
    ],
)
def test_a_page_address_holding_a_nul_is_a_plain_400_page(signed_in, url):
    response = signed_in.get(url)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert b"Bad Request" in response.content
    # Answered early, but after the security headers are set.
    assert "Content-Security-Policy" in response
    assert "Permissions-Policy" in response


@pytest.mark.parametrize(
    ("url", "status"),
    [
        # The same addresses without the NUL answer as usual: the guard is that narrow.
        ("/api/breach-reviews/to-review/?team=engineering", 200),
        ("/api/breach-reviews/to-review/?team=no-such-team", 200),
        ("/api/teams/?slug=engineering", 200),
        # An escaped percent sign is text, not a NUL: it reaches the view.
        ("/api/breach-reviews/to-review/?team=%2500", 200),
        ("/reviews/breaches/?team=%2500", 404),
        ("/reviews/breaches/", 200),
    ],
)
def test_addresses_without_a_nul_reach_their_view(signed_in, url, status):
    assert signed_in.get(url).status_code == status
