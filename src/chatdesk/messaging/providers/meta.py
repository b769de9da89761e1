from django.conf import settings

from chatdesk.messaging.providers.base import MessagingProvider, graph_base_url


class MetaProvider(MessagingProvider):
    """Meta WhatsApp Cloud API: POST {graph}/{version}/{phone_number_id}/messages, Bearer token."""

    def messages_url(self) -> str:
        version = settings.ENV.WHATSAPP_GRAPH_API_VERSION
        return f"{graph_base_url()}/{version}/{self.channel.phone_number_id}/messages"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.channel.api_token}"}
