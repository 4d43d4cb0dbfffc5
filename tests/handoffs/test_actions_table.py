"""One table of handoff actions (apps.handoffs.actions) serves the page and the API: each
action has its page URL and its API route under the same segment, calling the same
service."""

import pytest
from django.urls import resolve, reverse

from apps.handoffs import actions
from apps.handoffs.api import HandoffViewSet
from apps.handoffs.views import ACTIONS as PAGE_ACTIONS

# Claiming is assign's `claim: true` in the API (one endpoint for who has it).
API_ONLY_THROUGH_ASSIGN = {"claim"}


@pytest.mark.parametrize("name", sorted(actions.ACTIONS))
def test_each_action_of_the_table_is_a_page_action_and_an_api_action(name):
    spec = actions.ACTIONS[name]

    page = PAGE_ACTIONS[name]
    assert (page.slug, page.service, page.permission) == (
        spec.slug,
        spec.service,
        spec.permission,
    )
    assert reverse(f"handoffs:{spec.slug}", kwargs={"pk": 7}) == f"/handoffs/7/{spec.slug}/"

    if name in API_ONLY_THROUGH_ASSIGN:
        return
    match = resolve(f"/api/handoffs/7/{spec.slug}/")
    assert match.func.cls is HandoffViewSet
    assert match.func.actions == {"post": name}
