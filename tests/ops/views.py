"""Test-only views: one that logs a request the way a careless webhook handler would."""

import json
import logging

from django.http import HttpRequest, JsonResponse

from chatdesk.ops.request_id import get_request_id

logger = logging.getLogger("chatdesk.tests.webhook")


def log_everything(request: HttpRequest) -> JsonResponse:
    body = request.body.decode()
    logger.info(
        "webhook %s %s headers=%s body=%s",
        request.method,
        request.get_full_path(),
        dict(request.headers),
        body,
        extra={"request": request, "payload": json.loads(body) if body else None},
    )
    return JsonResponse({"request_id": request.request_id, "context": get_request_id()})


def fail_with_secret(request: HttpRequest) -> JsonResponse:
    api_key = request.headers["X-Api-Key"]
    raise RuntimeError(f"provider rejected api key {api_key} for {request.get_full_path()}")


async def async_request_id(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"request_id": request.request_id, "context": get_request_id()})
