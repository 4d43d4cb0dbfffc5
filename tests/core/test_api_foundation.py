import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_token_is_issued_for_username_and_password(api, provider_member, password):
    response = api.post("/api/auth/token/", {"username": "max", "password": password})
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=provider_member).key}


def test_token_request_with_a_wrong_password_is_a_field_keyed_400(api, provider_member):
    response = api.post("/api/auth/token/", {"username": "max", "password": "wrong"})
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    response = api.post("/api/auth/token/", {})
    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}


def test_token_authenticates_api_calls(api, provider_member):
    token = Token.objects.create(user=provider_member)
    assert api.get("/api/teams/").status_code in (401, 403)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.get("/api/teams/")
    assert response.status_code == 200
    assert {"count", "next", "previous", "results"} <= set(response.json())


def test_anonymous_api_calls_are_refused_as_json_not_redirected(api):
    response = api.get("/api/teams/")
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")


def test_session_authentication_works_for_the_browser(client, provider_member):
    client.force_login(provider_member)
    assert client.get("/api/teams/", HTTP_ACCEPT="application/json").status_code == 200


def test_openapi_schema_lists_the_endpoints(client, provider_member):
    client.force_login(provider_member)
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ["/api/teams/", "/api/teams/{id}/", "/api/calendars/", "/api/auth/token/"]:
        assert path in paths


def test_api_docs_load_swagger_from_our_own_static_files(client, provider_member):
    client.force_login(provider_member)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()


def test_pages_load_no_script_or_style_from_another_host(client, provider_member):
    client.force_login(provider_member)
    html = client.get("/teams/").content.decode()
    assert 'src="http' not in html and 'href="http' not in html
    assert "/static/vendor/bootstrap/css/bootstrap.min.css" in html
