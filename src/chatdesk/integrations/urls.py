from django.urls import path

from chatdesk.integrations.kapso.views import kapso_webhook
from chatdesk.integrations.whatsapp_cloud.views import whatsapp_cloud_webhook

urlpatterns = [
    path("whatsapp/<str:channel_key>", whatsapp_cloud_webhook, name="webhook-whatsapp"),
    path("kapso/<str:channel_key>", kapso_webhook, name="webhook-kapso"),
]
