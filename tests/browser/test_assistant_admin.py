"""The assistant's admin pages in a real browser: the sandbox answers a typed question, and the
settings, knowledge and sandbox pages fit a phone. (Fixtures: tests/browser/conftest.py.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from chatdesk.assistant.models import AssistantDraft
from chatdesk.assistant.services import knowledge_import_yaml
from chatdesk.crm.models import Message
from tests.assistant.conftest import EXAMPLE_KB
from tests.browser.helpers import PHONE, sign_in_directly

pytestmark = pytest.mark.browser


@pytest.fixture
def knowledge(live):
    knowledge_import_yaml(
        workspace=live.demo.workspace, text=EXAMPLE_KB.read_text(encoding="utf-8")
    )


def test_an_owner_tries_a_question_in_the_sandbox_and_sees_the_reply_and_its_source(
    live, knowledge, agent_page, screenshot
):
    page = agent_page
    page.get_by_role("link", name="Assistant", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Assistant settings")).to_be_visible()
    page.get_by_role("navigation", name="Assistant").get_by_role("link", name="Sandbox").click()
    expect(page.get_by_role("heading", level=1, name="Sandbox")).to_be_visible()

    page.get_by_label("Customer message", exact=True).fill("Jam buka kantor kapan?")
    page.get_by_label("Customer's WhatsApp name (optional)").fill("Siti Rahma")
    page.get_by_role("button", name="Try it").click()

    result = page.get_by_role("region", name="What the assistant would do")
    expect(result.locator(".reply")).to_contain_text("Halo Siti! Our office is open")
    expect(result).to_contain_text("office-hours (contact)")
    expect(result).to_contain_text("Approved answer (no LLM configured)")
    expect(result.get_by_role("row", name="length")).to_contain_text("passed")
    # htmx swapped the result in: the typed message is still in the form.
    expect(page.get_by_label("Customer message", exact=True)).to_have_value(
        "Jam buka kantor kapan?"
    )
    screenshot(page)

    page.get_by_label("Customer message", exact=True).fill("Berapa biaya kuliahnya?")
    page.get_by_role("button", name="Try it").click()
    expect(result).to_contain_text("forbidden topic: pricing")
    expect(result.locator(".reply")).to_have_count(0)
    assert not Message.objects.for_workspace(live.demo.workspace).exists()
    assert not AssistantDraft.objects.for_workspace(live.demo.workspace).exists()


def test_the_assistant_pages_fit_a_phone_screen(live, knowledge, new_page, screenshot):
    page = new_page(PHONE)
    sign_in_directly(page, live)
    base = f"/w/{live.demo.workspace.slug}/assistant"
    too_wide = {}
    for name in ("settings", "knowledge", "sandbox", "knowledge/import"):
        response = page.goto(live.path(f"{base}/{name}/"))
        assert response.status == 200, f"{name}: HTTP {response.status}"
        screenshot(page, name.replace("/", "-"))
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            too_wide[name] = f"{width} px"
    assert too_wide == {}
