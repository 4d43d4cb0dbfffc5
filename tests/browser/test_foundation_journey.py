"""End to end in a real Chromium: sign in, browse teams, change the time zone."""

import re

import pytest
from playwright.sync_api import expect

from apps.teams.models import Role
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def people(password):
    engineering = TeamFactory(name="Engineering", slug="engineering")
    TeamFactory(name="Support", slug="support")
    lena = UserFactory(username="lena", first_name="Lena", last_name="Lead")
    MembershipFactory(team=engineering, user=lena, role=Role.LEAD)
    MembershipFactory(team=engineering, user=UserFactory(username="max", first_name="Max"))
    return {"lena": lena}


def sign_in(page, base_url, username, password):
    page.goto(f"{base_url}/teams/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/teams/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_browse_teams_and_see_times_in_my_zone(live_server, page, people, password):
    sign_in(page, live_server.url, "lena", password)

    # Lands where it was going: the team list.
    expect(page).to_have_url(f"{live_server.url}/teams/")
    expect(page.get_by_test_id("team-list")).to_contain_text("Engineering")
    expect(page.get_by_test_id("team-list")).to_contain_text("Support")

    page.get_by_role("link", name="Engineering", exact=True).click()
    expect(page.get_by_role("heading", name="Engineering", level=1)).to_be_visible()
    expect(page.get_by_test_id("team-leads")).to_contain_text("Lena Lead")
    expect(page.get_by_test_id("team-members")).to_contain_text("Max")
    expect(page.get_by_test_id("open-periods")).to_contain_text("Europe/Berlin")
    first_period = page.get_by_test_id("period-user-time").first
    expect(first_period).to_contain_text("UTC")

    # Change the profile's zone: every time shown follows it.
    page.get_by_test_id("user-menu").click()
    page.get_by_role("link", name="Profile & API token").click()
    expect(page.get_by_test_id("profile-now")).to_contain_text("UTC")
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Profile saved.")).to_be_visible()
    expect(page.get_by_test_id("profile-now")).to_contain_text("JST")

    page.goto(f"{live_server.url}/teams/engineering/")
    expect(page.get_by_test_id("period-user-time").first).to_contain_text("JST")


def test_wrong_password_shows_an_error_in_the_browser(live_server, page, people):
    sign_in(page, live_server.url, "lena", "not-the-password")
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_value("lena")
