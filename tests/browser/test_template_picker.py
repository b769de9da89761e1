"""An approved template, from Settings > Templates to the customer, in a real browser: the admin
registers it, the 24-hour window closes, the agent fills in its parameter (the preview follows
as they type) and sends it; the simulator receives it once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from chatdesk.crm.models import Conversation, Message
from chatdesk.messaging.models import MessageTemplate
from tests.browser.test_browser import (
    CUSTOMER_NAME,
    customer_conversation,
    customer_writes,
    open_customer_thread,
    simulator_state,
)

pytestmark = pytest.mark.browser


def test_a_template_registered_in_settings_reaches_the_customer_after_the_window_closed(
    live, agent_page, screenshot
):
    page = agent_page
    # The demo seeds approved templates; this test registers its own, the only one, in Settings.
    MessageTemplate.objects.for_workspace(live.demo.workspace).delete()
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Templates").click()
    page.get_by_label("Name").fill("follow_up")
    page.get_by_label("Language").fill("id")
    page.get_by_label("Category").select_option(label="Utility")
    page.get_by_label("Body").fill("Halo {{1}}, apakah masih ada pertanyaan soal pendaftaran?")
    page.get_by_role("button", name="Add template").click()
    expect(page.get_by_text("Template follow_up (id) added")).to_be_visible()
    screenshot(page, "settings")

    customer_writes(live, "Halo, saya mau daftar.")
    conversation = customer_conversation(live)
    Conversation.objects.for_workspace(live.demo.workspace).filter(pk=conversation.pk).update(
        last_inbound_at=conversation.last_inbound_at - timedelta(days=2)
    )
    open_customer_thread(page)

    picker = page.locator("#template-picker")
    expect(picker).to_contain_text("Send an approved template")
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    preview = picker.locator("[data-template-preview]")
    picker.get_by_label("Parameter {{1}}").fill("Kak Siti")
    expect(preview).to_have_text("Halo Kak Siti, apakah masih ada pertanyaan soal pendaftaran?")
    screenshot(page, "picker")
    picker.get_by_role("button", name="Send template").click()

    text = "Halo Kak Siti, apakah masih ada pertanyaan soal pendaftaran?"
    sent = page.locator(".msg.is-out", has_text=text)
    expect(sent).to_be_visible()
    expect(picker).to_contain_text("Template follow_up sent.")
    expect(sent.locator(".msg-status")).to_contain_text("Read")
    assert live.simulator.emitter.wait_idle(timeout=5)
    templates = [s for s in simulator_state(live)["sent"] if s["type"] == "template"]
    assert [t["text"] for t in templates] == ["[template follow_up (id)]: Kak Siti"]
    [stored] = Message.objects.for_workspace(live.demo.workspace).filter(type="template")
    assert (stored.text, stored.conversation.contact.name) == (text, CUSTOMER_NAME)
