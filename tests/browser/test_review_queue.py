"""Reviewing the assistant in a real browser: a draft waits, a member finds the review queue from
the top bar, approves it, and the reply reaches the customer once."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chatdesk.assistant.models import AssistantDraft, DraftStatus
from tests.assistant.review_helpers import draft_make
from tests.browser.test_browser import (
    CUSTOMER_NAME,
    customer_conversation,
    customer_writes,
    simulator_state,
)
from tests.devtools.helpers import wait_until

pytestmark = pytest.mark.browser

DRAFT = "Hi Siti! Our office is open Monday to Friday, 09:00-17:00."


def test_a_member_approves_a_waiting_draft_from_the_review_queue_and_it_reaches_the_customer(
    live, agent_page, screenshot
):
    customer_writes(live, "Jam buka kantor kapan?")
    conversation = customer_conversation(live)
    draft = draft_make(
        live.demo.workspace,
        conversation=conversation,
        inbound_text="When does your office open?",
        draft_text=DRAFT,
    )
    page = agent_page
    page.reload()  # the badge counts on each page load

    top_bar = page.get_by_role("banner")
    review_link = top_bar.get_by_role("link", name="Review: 1 draft waiting")
    expect(review_link).to_be_visible()
    review_link.click()

    expect(page.get_by_role("heading", level=1, name="Review queue")).to_be_visible()
    card = page.get_by_role("article", name=f"Assistant draft for {CUSTOMER_NAME}")
    expect(card).to_contain_text("When does your office open?")
    expect(card).to_contain_text(DRAFT)
    expect(card).to_contain_text("office-hours")
    screenshot(page, "waiting")

    card.get_by_role("button", name="Approve and send").click()

    expect(card).to_contain_text("Approved: the reply is on its way to the customer.")
    expect(card.get_by_role("button", name="Approve and send")).to_have_count(0)
    sent = wait_until(
        lambda: simulator_state(live)["sent_by_text"].get(DRAFT), what="the reply at the provider"
    )
    assert sent["count"] == 1
    assert live.simulator.emitter.wait_idle(timeout=5)
    assert simulator_state(live)["sent_by_text"][DRAFT]["count"] == 1
    draft = AssistantDraft.objects.for_workspace(live.demo.workspace).get(pk=draft.pk)
    assert draft.status == DraftStatus.SENT and draft.reviewer.email == live.demo.email
    screenshot(page, "approved")

    # In the conversation: the assistant panel shows the draft as sent, and the reply in the
    # thread links to it.
    page.get_by_role("link", name="Inbox", exact=True).click()
    page.locator(".conv", has_text=CUSTOMER_NAME).get_by_role("link").click()
    panel = page.get_by_role("region", name="Assistant drafts")
    expect(panel).to_contain_text("Sent")
    expect(panel).to_contain_text(DRAFT)
    reply = page.locator(".msg.is-out", has_text=DRAFT)
    screenshot(page, "thread")
    reply.get_by_role("link", name="Assistant draft details").click()
    expect(page.get_by_role("heading", level=1, name="Assistant draft")).to_be_visible()
    expect(page.get_by_role("button", name="Approve and send")).to_have_count(0)
