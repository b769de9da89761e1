from django.conf import settings

from chatdesk.messaging.providers.base import MessagingProvider, kapso_base_url


class KapsoProvider(MessagingProvider):
    """Kapso proxies Meta's API: same body, its own URL prefix and an X-API-Key header."""

    def messages_url(self) -> str:
        version = settings.ENV.WHATSAPP_GRAPH_API_VERSION
        return f"{kapso_base_url()}/meta/whatsapp/{version}/{self.channel.phone_number_id}/messages"

    def auth_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.channel.api_token}
