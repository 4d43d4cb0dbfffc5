"""Personas of the browser journeys: Support files with Engineering under one agreement."""

import pytest

from tests.factories import AgreementFactory, MembershipFactory, TeamFactory, UserFactory


@pytest.fixture
def people():
    """Rita (Support) and Max (Engineering), and the Support → Engineering agreement."""
    engineering = TeamFactory(name="Engineering", slug="engineering")
    support = TeamFactory(name="Support", slug="support")
    rita = UserFactory(username="rita", first_name="Rita", last_name="Support")
    max_ = UserFactory(username="max", first_name="Max", last_name="Muster")
    MembershipFactory(team=support, user=rita)
    MembershipFactory(team=engineering, user=max_)
    agreement = AgreementFactory(
        series__provider_team=engineering,
        series__requesting_team=support,
        title="Support → Engineering escalations",
    )
    return {"rita": rita, "max": max_, "agreement": agreement}
