"""Shared steps of the browser journeys."""

import re

from playwright.sync_api import expect


def field(label: str) -> re.Pattern:
    """A form field's accessible name: its label, with crispy's * when required."""
    return re.compile(rf"^\s*{re.escape(label)}\s*\*?\s*$")


def sign_in(page, url: str, username: str, password: str) -> None:
    """Open `url`, get sent to the sign-in page, sign in and land back on `url`."""
    page.goto(url)
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(url)
