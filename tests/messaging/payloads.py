"""Webhook bodies built in the tests (the fixtures in integrations/*/fixtures are real ones)."""

import json

from tests.integrations.whatsapp_cloud.helpers import FIXTURE_PHONE_NUMBER_ID


def meta_text(
    *,
    wa_id: str,
    wamid: str,
    timestamp: int = 1_790_000_000,
    phone_number_id: str = FIXTURE_PHONE_NUMBER_ID,
) -> bytes:
    """A Meta delivery of one text message, as the load benchmark sends them."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": "15550783881",
            "phone_number_id": phone_number_id,
        },
        "contacts": [{"profile": {"name": "Siti"}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": wamid,
                "timestamp": str(timestamp),
                "type": "text",
                "text": {"body": "Kamarnya masih ada? \u2615"},
            }
        ],
    }
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }
    return json.dumps(envelope, separators=(",", ":")).encode()
