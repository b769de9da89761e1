"""What a member of staff does all day, in a real browser against the running app.

The app is served over HTTP with the demo workspace (`make demo`'s seed); the WhatsApp simulator
plays the customer and the provider; a worker thread delivers replies. Navigation goes through the
links a new user sees (top bar, settings tabs, the conversation list) rather than typed URLs, so
these tests also prove each feature can be found from the page.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from chatdesk.crm.models import Conversation, Direction, Message
from chatdesk.devtools.seed import DEMO_CHANNEL_VERIFY_TOKEN, DEMO_WORKSPACE_NAME
from chatdesk.tenancy.models import Invitation, Role
from tests.browser.helpers import DESKTOP, PHONE, sign_in_directly
from tests.devtools.helpers import wait_until

pytestmark = pytest.mark.browser

CUSTOMER = "6281234567890"
CUSTOMER_NAME = "Siti Rahma"


def customer_writes(live, text: str) -> None:
    """The customer sends `text` through the simulator's control API (what its page calls)."""
    response = httpx.post(
        f"{live.simulator.url}/control/customer-message",
        json={"from": f"+{CUSTOMER}", "name": CUSTOMER_NAME, "text": text},
        timeout=5,
    )
    assert response.is_success, response.text


def customer_conversation(live) -> Conversation:
    return wait_until(
        lambda: (
            Conversation.objects.for_workspace(live.demo.workspace)
            .filter(contact__wa_id=CUSTOMER, last_inbound_at__isnull=False)
            .first()
        ),
        what="the customer's conversation",
    )


def simulator_state(live) -> dict:
    response = httpx.get(f"{live.simulator.url}/control/state", timeout=5)
    assert response.is_success, response.text
    return response.json()


def open_customer_thread(page) -> None:
    """From anywhere: the top bar's Inbox, then the customer's row in the list."""
    page.get_by_role("link", name="Inbox", exact=True).click()
    page.locator(".conv", has_text=CUSTOMER_NAME).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1, name=CUSTOMER_NAME)).to_be_visible()


def details_panel(page):
    return page.get_by_role("complementary", name="Conversation details")


def test_the_demo_owner_signs_in_with_email_and_password_and_lands_in_the_workspace(
    live, new_page, screenshot
):
    page = new_page()
    page.goto(live.path("/"))
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    page.get_by_label("Email").fill(live.demo.email)
    page.get_by_label("Password").fill(live.demo.password)
    page.get_by_role("button", name="Sign In").click()

    expect(page).to_have_url(live.path(f"/w/{live.demo.workspace.slug}/"))
    expect(page.get_by_role("heading", level=1, name=DEMO_WORKSPACE_NAME)).to_be_visible()
    expect(page.get_by_text(f"You are signed in as {live.demo.email}")).to_be_visible()
    top_bar = page.get_by_role("banner")
    for section in ("Inbox", "Contacts", "Dashboard", "Settings"):
        expect(top_bar.get_by_role("link", name=section, exact=True)).to_be_visible()
    screenshot(page)


def test_a_message_typed_in_the_simulator_appears_in_the_open_inbox_and_opens_as_a_thread(
    live, agent_page, new_page, screenshot
):
    page = agent_page
    page.get_by_role("link", name="Inbox", exact=True).click()
    expect(page.get_by_text("No conversations match these filters.")).to_be_visible()

    customer = new_page()
    customer.goto(live.simulator.url)
    expect(customer.locator("#channel option")).to_have_count(1)  # the demo's number
    customer.get_by_placeholder("Type as the customer").fill("Is the scholarship still open?")
    customer.keyboard.press("Enter")
    expect(
        customer.locator(".bubble.in", has_text="Is the scholarship still open?")
    ).to_be_visible()

    # No reload: the list polls and the new conversation arrives, unread.
    row = page.locator(".conv", has_text=CUSTOMER_NAME)
    expect(row).to_contain_text("Is the scholarship still open?")
    expect(row.locator(".unread")).to_contain_text("1")
    row.get_by_role("link").click()

    expect(page.get_by_role("heading", level=1, name=CUSTOMER_NAME)).to_be_visible()
    expect(page.locator(".msg.is-in", has_text="Is the scholarship still open?")).to_be_visible()
    expect(row.locator(".unread")).to_have_count(0)  # opening the thread read it
    screenshot(page)
    screenshot(customer, "simulator")


def test_a_reply_from_the_thread_composer_reaches_the_simulator_exactly_once(
    live, agent_page, new_page, screenshot
):
    customer_writes(live, "Halo, boleh tanya soal jadwal?")
    conversation = customer_conversation(live)
    page = agent_page
    open_customer_thread(page)

    composer = page.get_by_label("Reply or private note")
    composer.fill("Halo Siti, jadwalnya kami kirim sebentar lagi.")
    page.get_by_role("button", name="Send", exact=True).click()

    reply = page.locator(".msg.is-out", has_text="Halo Siti, jadwalnya kami kirim sebentar lagi.")
    expect(reply).to_be_visible()
    expect(composer).to_have_value("")
    # The worker sent it; the simulator reported sent, delivered, read; the thread polled.
    expect(reply.locator(".msg-status")).to_contain_text("Read")
    assert live.simulator.emitter.wait_idle(timeout=5)
    sent = simulator_state(live)["sent_by_text"]
    assert sent["Halo Siti, jadwalnya kami kirim sebentar lagi."]["count"] == 1
    stored = Message.objects.for_workspace(live.demo.workspace).filter(
        conversation=conversation, direction=Direction.OUTBOUND
    )
    assert [m.text for m in stored] == ["Halo Siti, jadwalnya kami kirim sebentar lagi."]

    # And the customer sees it on their side.
    customer = new_page()
    customer.goto(live.simulator.url)
    expect(
        customer.locator(".bubble.out", has_text="Halo Siti, jadwalnya kami kirim sebentar lagi.")
    ).to_be_visible()
    screenshot(page)
    screenshot(customer, "simulator")


def test_taking_over_pauses_the_assistant_and_handing_back_restores_it(
    live, agent_page, screenshot
):
    customer_writes(live, "Saya mau bicara dengan orang.")
    conversation = customer_conversation(live)
    page = agent_page
    open_customer_thread(page)
    panel = details_panel(page)
    expect(panel).to_contain_text("The assistant may reply in this conversation.")

    panel.get_by_role("button", name="Take over").click()

    expect(panel).to_contain_text("You took over: the assistant will not reply here.")
    expect(panel.get_by_role("button", name="Hand back to the assistant")).to_be_visible()
    expect(page.locator("#thread-head")).to_contain_text("Human took over")
    conversation.refresh_from_db()
    assert conversation.assistant_paused
    screenshot(page)

    panel.get_by_role("button", name="Hand back to the assistant").click()

    expect(panel).to_contain_text("Handed back: the assistant may reply again.")
    expect(page.locator("#thread-head")).not_to_contain_text("Human took over")
    conversation.refresh_from_db()
    assert not conversation.assistant_paused


def test_an_owner_invites_a_member_from_settings_team_and_sees_the_pending_invitation(
    live, agent_page, screenshot
):
    page = agent_page
    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Team")).to_be_visible()
    expect(page.get_by_text("No pending invitations.")).to_be_visible()

    page.get_by_label("Email", exact=True).fill("New.Agent@example.com")
    page.get_by_label("Role", exact=True).select_option(label="Agent")
    page.get_by_role("button", name="Send invitation").click()

    expect(page.get_by_role("listitem").filter(has_text="Invitation sent to")).to_contain_text(
        "new.agent@example.com"
    )
    pending = page.get_by_role("row", name=re.compile("new.agent@example.com"))
    expect(pending).to_contain_text("Agent")
    expect(pending).to_contain_text(live.demo.email)  # invited by
    expect(pending.get_by_role("button", name="Withdraw")).to_be_visible()
    [invitation] = Invitation.objects.for_workspace(live.demo.workspace).filter(
        accepted_at__isnull=True
    )
    assert (invitation.email, invitation.role) == ("new.agent@example.com", Role.AGENT)
    screenshot(page)


def test_an_owner_sends_a_test_event_from_settings_integrations_and_sees_it_stored(
    live, agent_page, screenshot
):
    page = agent_page
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Integrations").click()
    card = page.locator(".channel-card")
    expect(card).to_contain_text("None received yet.")

    card.get_by_role("button", name="Send test event").click()

    expect(card).to_contain_text("Test event received and stored.")
    expect(card).to_contain_text("HTTP status: 200")
    expect(card).not_to_contain_text("None received yet.")  # the last webhook is the test
    screenshot(page)

    card.get_by_role("button", name="Reveal verify token").click()
    expect(card).to_contain_text(DEMO_CHANNEL_VERIFY_TOKEN)

    # The test message was removed again: the inbox stays empty.
    page.get_by_role("link", name="Inbox", exact=True).click()
    expect(page.get_by_text("No conversations match these filters.")).to_be_visible()


def test_the_main_pages_fit_a_laptop_and_a_phone_screen_without_sideways_scrolling(
    live, new_page, screenshot
):
    customer_writes(live, "Selamat pagi, saya tertarik kuliah di Belanda.")
    conversation = customer_conversation(live)
    # Long enough to be cut short in the list: a one-line preview must not widen the page.
    customer_writes(
        live,
        "Apa syarat bahasa Inggrisnya untuk program master, dan apakah nilai IELTS 6.0 sudah "
        "cukup atau saya harus mengambil kursus persiapan dulu sebelum mendaftar?",
    )
    wait_until(lambda: conversation.messages.count() == 2, what="the second message")
    slug = live.demo.workspace.slug
    pages = {
        "inbox": f"/w/{slug}/inbox/",
        "thread": f"/w/{slug}/inbox/{conversation.pk}/",
        "contacts": f"/w/{slug}/contacts/",
        "contact": f"/w/{slug}/contacts/{conversation.contact_id}/",
        "dashboard": f"/w/{slug}/dashboard/",
        "settings-team": f"/w/{slug}/settings/team/",
        "settings-integrations": f"/w/{slug}/settings/integrations/",
    }
    too_wide = {}
    for screen, viewport in {"desktop": DESKTOP, "phone": PHONE}.items():
        page = new_page(viewport)
        sign_in_directly(page, live)
        for name, path in pages.items():
            response = page.goto(live.path(path))
            assert response.status == 200, f"{name}: HTTP {response.status}"
            screenshot(page, f"{screen}-{name}")
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > viewport["width"]:
                too_wide[f"{name} on a {viewport['width']} px {screen}"] = f"{width} px"
    assert too_wide == {}
