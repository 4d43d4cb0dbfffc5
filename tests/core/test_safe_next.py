"""Going back after a POST: only to a path on this site, never a 500 for what `next` says."""

import pytest
from django.test import RequestFactory

from apps.core.http import safe_next


@pytest.mark.parametrize(
    "target",
    [
        "",
        "x",
        "²",
        "47e-53",  # a bare word: redirect() would take it for a URL name (NoReverseMatch)
        "notifications:inbox",
        "//evil.example/",
        "/\\evil.example/",
        "https://evil.example/",
        "javascript:alert(1)",
        "\x00",
    ],
)
def test_anything_but_a_local_path_goes_to_the_default(target):
    request = RequestFactory().post("/x/", {"next": target})
    assert safe_next(request, "/default/") == "/default/"


def test_a_local_path_is_kept():
    request = RequestFactory().post("/x/", {"next": "/queues/engineering/?tab=mine"})
    assert safe_next(request, "/default/") == "/queues/engineering/?tab=mine"


@pytest.mark.django_db
def test_marking_read_with_a_bare_word_as_next_goes_back_to_the_inbox(client, requester):
    client.force_login(requester)
    response = client.post("/notifications/read-all/", {"next": "47e-53"})
    assert response.status_code == 302 and response["Location"] == "/notifications/"
