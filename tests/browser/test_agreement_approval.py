"""End to end in a real Chromium: Support's lead drafts an escalation agreement with
Engineering and submits it; Engineering's lead approves it; it is active."""

import re

import pytest
from playwright.sync_api import expect

from apps.agreements.models import Agreement, Status
from apps.teams.models import Role
from tests.browser.helpers import field, sign_in
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIERS = {
    0: ("30m", "2h", "8h"),
    1: ("2h", "24h", "72h"),
    2: ("8h", "40h", "80h"),
    3: ("24h", "", ""),
}


@pytest.fixture
def people():
    engineering = TeamFactory(name="Engineering", slug="engineering")
    support = TeamFactory(name="Support", slug="support")
    rob = UserFactory(username="rob", first_name="Rob", last_name="Support")
    lena = UserFactory(username="lena", first_name="Lena", last_name="Engineering")
    MembershipFactory(team=support, user=rob, role=Role.LEAD)
    MembershipFactory(team=engineering, user=lena, role=Role.LEAD)
    return {"rob": rob, "lena": lena}


def test_support_drafts_and_submits_engineering_approves(
    live_server, page, browser, people, password
):
    base = live_server.url

    # --- Support's lead drafts the agreement --------------------------------------------
    sign_in(page, f"{base}/agreements/", "rob", password)
    page.get_by_test_id("new-agreement").click()
    expect(page.get_by_role("heading", name="New agreement")).to_be_visible()

    # The team Rob leads is already chosen as the requesting side.
    expect(page.get_by_label("Requesting team").locator("option:checked")).to_have_text("Support")
    page.get_by_label("Provider team").select_option(label="Engineering")
    page.get_by_label(field("Title")).fill("Support → Engineering escalations")
    page.get_by_label("In scope").fill("Product defects customers report")

    # Four tiers are prefilled with their impact definitions; type the targets.
    for index, (ack, plan, resolve) in TIERS.items():
        row = page.get_by_test_id(f"target-{index}")
        row.locator(f"#id_targets-{index}-acknowledge_seconds").fill(ack)
        row.locator(f"#id_targets-{index}-action_plan_seconds").fill(plan)
        row.locator(f"#id_targets-{index}-resolve_seconds").fill(resolve)
    expect(page.locator("#id_targets-0-priority")).to_have_value("P1")
    expect(page.locator("#id_targets-3-priority")).to_have_value("P4")

    # Add a triage field in the first blank row after the five default ones.
    extra = page.get_by_test_id("triage-5")
    extra.get_by_label(field("Key")).fill("ticket")
    extra.get_by_label(field("Label")).fill("Zendesk ticket")
    extra.get_by_label(field("Kind")).select_option("text")
    extra.get_by_label(field("Pattern")).fill(r"ZD-\d+")

    page.get_by_test_id("save-draft").click()
    expect(page.get_by_text("Draft “Support → Engineering escalations” saved")).to_be_visible()
    expect(page.get_by_test_id("status-badge").first).to_have_text("Draft")
    expect(page.get_by_test_id("targets")).to_contain_text("30 min")
    expect(page.get_by_test_id("targets")).to_contain_text("80 business h")
    expect(page.get_by_test_id("triage-preview")).to_contain_text("Zendesk ticket")
    expect(page.get_by_test_id("triage-preview")).to_contain_text("Steps to reproduce")

    page.get_by_test_id("action-submit").click()
    expect(page.get_by_test_id("status-badge").first).to_have_text("In review")
    page.get_by_test_id("action-approve").click()
    expect(page.get_by_text("Approved for Support. Waiting for the other team")).to_be_visible()
    agreement_url = page.url

    # --- Engineering's lead approves, in a browser of her own ------------------------------
    context = browser.new_context()
    try:
        lena = context.new_page()
        sign_in(lena, agreement_url, "lena", password)
        expect(lena.get_by_test_id("approvals")).to_contain_text("Approved by Rob Support")
        expect(lena.get_by_test_id("action-approve")).to_have_text(
            re.compile("Approve for Engineering")
        )
        lena.get_by_test_id("action-approve").click()
        expect(lena.get_by_text("Version 1 is now active")).to_be_visible()
        expect(lena.get_by_test_id("status-badge").first).to_have_text("Active")
        expect(lena.get_by_test_id("approvals")).to_contain_text("Approved by Lena Engineering")
    finally:
        context.close()

    agreement = Agreement.objects.get()
    assert agreement.status == Status.ACTIVE
    assert agreement.triage_fields.filter(key="ticket", pattern=r"ZD-\d+").exists()
    assert agreement.targets.count() == 4
