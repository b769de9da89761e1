"""Request ids: one id per request (or job), on every log line and in the `X-Request-ID` header.

The id lives in a `ContextVar`, so it follows the code through sync views, async views
(asgiref copies the context into the threads it runs sync code in) and, through
`request_id_context`, into background jobs that carry the id of the request that enqueued them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

REQUEST_ID_HEADER = "X-Request-ID"
# An inbound id is reused only when it cannot carry anything but a token: no spaces, no newlines
# (log injection), no quotes, bounded length. Anything else is replaced, not cleaned.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

_request_id: ContextVar[str | None] = ContextVar("chatdesk_request_id", default=None)


def get_request_id() -> str | None:
    """The id of the request or job being handled, or None outside one."""
    return _request_id.get()


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_is_sane(value: object) -> bool:
    return isinstance(value, str) and _SANE_REQUEST_ID.fullmatch(value) is not None


@contextmanager
def request_id_context(value: str | None = None) -> Iterator[str]:
    """Run a block (a background job, a management command) under a request id.

    Pass the id recorded when the job was enqueued to keep one id from webhook to reply; a
    missing or malformed value gets a fresh id so the job's lines still group together.
    """
    request_id = value if request_id_is_sane(value) else request_id_new()
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)


class RequestIdMiddleware:
    """First middleware: assigns the request id before anything else can log.

    Log lines emitted after the middleware returns (Django's "Not Found: /x" comes from the
    handler, outside the middleware chain) still get the id: the logging filter falls back to
    `record.request.request_id`.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        request_id = self._assign(request)
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response

    async def __acall__(self, request):
        request_id = self._assign(request)
        token = _request_id.set(request_id)
        try:
            response = await self.get_response(request)
        finally:
            _request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response

    @staticmethod
    def _assign(request) -> str:
        inbound = request.headers.get(REQUEST_ID_HEADER)
        request_id = inbound if request_id_is_sane(inbound) else request_id_new()
        request.request_id = request_id
        return request_id
