import asyncio
import json
import re

import pytest
from django.http import JsonResponse
from django.test import AsyncClient, RequestFactory

from chatdesk.ops.request_id import RequestIdMiddleware, get_request_id, request_id_context

pytestmark = pytest.mark.urls("tests.ops.urls")

HEX32 = re.compile(r"[0-9a-f]{32}")


def test_a_request_without_an_id_gets_a_fresh_one_in_header_request_and_context(client):
    response = client.get("/test/log")
    request_id = response["X-Request-ID"]
    assert HEX32.fullmatch(request_id)
    assert response.json() == {"request_id": request_id, "context": request_id}
    assert client.get("/test/log")["X-Request-ID"] != request_id


def test_a_sane_inbound_id_from_the_proxy_is_kept(client):
    response = client.get("/test/log", headers={"X-Request-ID": "lb-7f3a.9c_21-XY"})
    assert response["X-Request-ID"] == "lb-7f3a.9c_21-XY"
    assert response.json()["request_id"] == "lb-7f3a.9c_21-XY"


@pytest.mark.parametrize(
    "inbound",
    [
        "x" * 65,  # too long
        "short7x",  # too short
        "has space 123",
        "abc12345\n2026-01-01 ERROR forged log line",
        "abc12345\r\nSet-Cookie: a=b",
        "quote'or\"12345",
        "ünïcode-12345",
        "",
    ],
)
def test_an_insane_inbound_id_is_replaced_not_reused(client, inbound):
    response = client.get("/test/log", HTTP_X_REQUEST_ID=inbound)
    assert HEX32.fullmatch(response["X-Request-ID"])
    assert response.json()["request_id"] == response["X-Request-ID"]


def test_the_id_does_not_outlive_the_request(client):
    client.get("/test/log")
    assert get_request_id() is None


def test_health_responses_carry_the_id_too(client):
    assert HEX32.fullmatch(client.get("/healthz")["X-Request-ID"])


def test_async_views_see_the_id_under_asgi():
    async def fetch():
        return await AsyncClient().get("/test/async", headers={"X-Request-ID": "async-req-0001"})

    response = asyncio.run(fetch())
    assert response["X-Request-ID"] == "async-req-0001"
    assert response.json() == {"request_id": "async-req-0001", "context": "async-req-0001"}


def test_the_middleware_runs_natively_async_when_the_chain_is_async():
    # With today's middleware stack Django runs this middleware in sync mode; once every
    # middleware is async-capable it will run natively async, and the id must still flow.
    async def view(request):
        return JsonResponse({"context": get_request_id()})

    middleware = RequestIdMiddleware(view)
    request = RequestFactory().get("/", headers={"X-Request-ID": "native-async-01"})
    response = asyncio.run(middleware(request))
    assert response["X-Request-ID"] == request.request_id == "native-async-01"
    assert json.loads(response.content) == {"context": "native-async-01"}
    assert get_request_id() is None


def test_sync_views_see_the_id_under_asgi():
    async def fetch():
        return await AsyncClient().get("/test/log", headers={"X-Request-ID": "async-req-0002"})

    response = asyncio.run(fetch())
    assert response.json() == {"request_id": "async-req-0002", "context": "async-req-0002"}


def test_a_job_runs_under_the_id_it_was_given_and_restores_the_previous_one():
    assert get_request_id() is None
    with request_id_context("webhook-req-0001") as outer:
        assert outer == get_request_id() == "webhook-req-0001"
        with request_id_context("nested-job-0002"):
            assert get_request_id() == "nested-job-0002"
        assert get_request_id() == "webhook-req-0001"
    assert get_request_id() is None


@pytest.mark.parametrize("carried", [None, "", "bad id\nwith newline", "x" * 200])
def test_a_job_with_a_missing_or_malformed_id_gets_a_fresh_one(carried):
    with request_id_context(carried) as request_id:
        assert HEX32.fullmatch(request_id)
        assert get_request_id() == request_id
