from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def whatsapp_cloud_webhook(request, channel_key):
    return HttpResponse(status=501)
