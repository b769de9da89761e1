from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chatdesk.integrations.kapso.provider import KapsoProvider
from chatdesk.messaging.webhooks import handle_webhook

PROVIDER = KapsoProvider()


@csrf_exempt  # authenticated by the HMAC signature, not a session
@require_POST
def kapso_webhook(request, channel_key: str):
    return handle_webhook(request, channel_key, PROVIDER)
