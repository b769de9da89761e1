"""Health endpoints (filled in by issue 2 item 10)."""

from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    return JsonResponse({"status": "ok"})
