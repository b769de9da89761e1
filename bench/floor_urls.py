"""The floor: an empty Django view at the same path shape as the Meta webhook.

Served only by `bench/floor_wsgi.py` (see bench/README.md); never part of the application.
"""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt  # as the webhook view: signed callers carry no CSRF cookie
@require_POST
def floor_view(request, channel_key: str) -> HttpResponse:
    # Empty on purpose: whatever the webhook view does beyond this is what the ratio measures.
    return HttpResponse(b'{"status": "ok"}', content_type="application/json")


urlpatterns = [path("webhooks/whatsapp/<str:channel_key>", floor_view)]
