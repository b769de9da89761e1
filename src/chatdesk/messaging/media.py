"""Inbound media: fetched by its own retried job (`tasks.message_fetch_media`) and kept in Django's
default storage, so an attachment outlives the provider's short-lived links.

- Meta: `GET {graph}/{version}/{media_id}` with the channel's bearer token answers a download
  `url` valid for about 5 minutes, then `GET url` with the same bearer gives the bytes. The url is
  asked for again on every attempt because it expires; a webhook's media id itself expires after
  7 days.
- Kapso: the webhook carries `media_url` (Kapso-hosted). It is fetched directly, with the
  channel's `X-API-Key` only when it points at Kapso's API host: a key never goes to another host.

The message is stored at once with `media_state=pending`; this module moves it to `stored`, or to
`failed` with a short reason an agent can read (never a secret, never a URL's query string). A
failed fetch can be retried with `message_media_retry`.
"""

from __future__ import annotations

import logging
import mimetypes
import tempfile
from dataclasses import dataclass
from typing import IO
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings
from django.core.files import File
from django.db import transaction

from chatdesk.crm.models import MediaState, Message
from chatdesk.messaging.models import ChannelKind
from chatdesk.messaging.providers import base as providers
from chatdesk.messaging.providers import provider_for

logger = logging.getLogger(__name__)

# WhatsApp's largest media are documents, up to 100 MB (images 5 MB, audio and video 16 MB).
MEDIA_MAX_BYTES = 100 * 1024 * 1024
# Large files: the read timeout is per chunk, not for the whole download.
MEDIA_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=5.0)
CHUNK_BYTES = 64 * 1024
# Kept in memory up to this size, spooled to a temporary file beyond it.
SPOOL_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
REASON_MAX_LENGTH = 200


class MediaFetchError(Exception):
    """One failed fetch. `permanent`: retrying cannot help (gone, too large, refused)."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason[:REASON_MAX_LENGTH]
        self.permanent = permanent


class MediaOutcome:
    STORED = "stored"
    SKIPPED = "skipped"  # nothing to fetch: already stored, no media, or the message is gone
    FAILED = "failed"


@dataclass(frozen=True)
class _Download:
    url: str
    headers: dict[str, str]
    mime_type: str = ""


def message_media_fetch(
    *,
    message_id: int,
    media_url: str = "",
    last_attempt: bool = True,
    client: httpx.Client | None = None,
) -> str:
    """One fetch attempt. Returns a MediaOutcome.

    A transient failure raises MediaFetchError (the job retries with backoff) unless this is the
    last attempt, when the message is marked `failed` first. A permanent one marks it `failed` at
    once and returns.
    """
    message = (
        Message.dangerously_unscoped_objects.select_related("channel").filter(pk=message_id).first()
    )
    if message is None or message.media_state not in (MediaState.PENDING, MediaState.FAILED):
        return MediaOutcome.SKIPPED
    own_client = client is None
    client = client or providers.http_client(timeout=MEDIA_TIMEOUT)
    try:
        if not message.channel.is_active:
            raise MediaFetchError("The channel is inactive.", permanent=True)
        download = _download_for(message, media_url=media_url, client=client)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            content_type = _download_into(spool, download=download, client=client)
            mime_type = message.media_mime_type or download.mime_type or content_type
            if content_type == "text/html" and not mime_type.startswith("text/html"):
                # An error or login page served with 200 instead of the file.
                raise MediaFetchError(f"{_where(download.url)} answered a web page, not the file.")
            return _media_store(message, spool=spool, mime_type=mime_type)
    except MediaFetchError as error:
        if error.permanent or last_attempt:
            _media_fail(message, reason=error.reason)
            return MediaOutcome.FAILED
        raise
    except Exception as exc:
        # A bug or a storage failure: the attachment must not stay "pending" for ever.
        if last_attempt:
            _media_fail(message, reason=f"Unexpected error ({type(exc).__name__}).")
        raise
    finally:
        if own_client:
            client.close()


def _download_for(message: Message, *, media_url: str, client: httpx.Client) -> _Download:
    channel = message.channel
    auth = provider_for(channel, client=client).auth_headers()
    if channel.kind == ChannelKind.KAPSO:
        if not media_url:
            raise MediaFetchError("Kapso sent no link for this attachment.", permanent=True)
        # Same scheme, host and port as Kapso's API: the key never travels in clear text either.
        same_origin = _origin(media_url) == _origin(providers.kapso_base_url())
        return _Download(url=media_url, headers=auth if same_origin else {})
    if not message.media_id:
        raise MediaFetchError("The message names no media id.", permanent=True)
    version = settings.ENV.WHATSAPP_GRAPH_API_VERSION
    info_url = f"{providers.graph_base_url()}/{version}/{message.media_id}"
    response = _get(client, info_url, headers=auth)
    try:
        response.read()
        _raise_for_status(response, info_url)
        data = response.json()
    except ValueError:
        raise MediaFetchError("Meta answered the media lookup without JSON.") from None
    except httpx.HTTPError as exc:
        raise MediaFetchError(f"{type(exc).__name__} reading {_where(info_url)}.") from None
    finally:
        response.close()
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise MediaFetchError("Meta answered the media lookup without a download link.")
    size = str(data.get("file_size", ""))
    if size.isdigit() and int(size) > MEDIA_MAX_BYTES:
        raise MediaFetchError(_too_large(int(size)), permanent=True)
    mime_type = data.get("mime_type") if isinstance(data.get("mime_type"), str) else ""
    # Meta's download link needs the same bearer token as the lookup.
    return _Download(url=url, headers=auth, mime_type=mime_type[:128])


def _get(client: httpx.Client, url: str, *, headers: dict[str, str]) -> httpx.Response:
    """Start a streamed GET. Every transport failure is transient: a GET can be repeated.

    Redirects are followed here rather than by httpx, which forwards custom headers such as
    Kapso's X-API-Key to any host: credentials go only to the host they were meant for.
    """
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = client.send(client.build_request("GET", url, headers=headers), stream=True)
        except providers.REQUEST_ERRORS as exc:
            raise MediaFetchError(
                f"Invalid media link ({type(exc).__name__}) for {_where(url)}.", permanent=True
            ) from None
        except httpx.HTTPError as exc:
            raise MediaFetchError(f"{type(exc).__name__} reaching {_where(url)}.") from None
        location = response.headers.get("location", "")
        if not (response.is_redirect and location):
            return response
        response.close()
        target = urljoin(url, location)
        if not target.startswith(("https://", "http://")):
            raise MediaFetchError(f"{_where(url)} redirected to a non-web link.", permanent=True)
        if urlsplit(target).hostname != urlsplit(url).hostname:
            headers = {}
        url = target
    raise MediaFetchError(f"Too many redirects from {_where(url)}.", permanent=True)


def _raise_for_status(response: httpx.Response, url: str) -> None:
    if response.is_success:
        return
    code = ""
    try:
        error = response.json().get("error") if response.content else None
        code = str(error.get("code", "")) if isinstance(error, dict) else ""
    except (ValueError, AttributeError, httpx.ResponseNotRead):
        pass
    status = response.status_code
    reason = f"HTTP {status}{f' (error {code[:16]})' if code else ''} from {_where(url)}."
    transient = status in (408, 429) or status >= 500 or code in providers.RETRYABLE_CODES
    # 404/410: the media expired or never existed; other 4xx: refused (a revoked token, say).
    raise MediaFetchError(reason, permanent=not transient)


def _download_into(spool: IO[bytes], *, download: _Download, client: httpx.Client) -> str:
    """Stream the bytes into `spool`, refusing more than MEDIA_MAX_BYTES; returns the type."""
    response = _get(client, download.url, headers=download.headers)
    try:
        if not response.is_success:
            response.read()
        _raise_for_status(response, download.url)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MEDIA_MAX_BYTES:
            raise MediaFetchError(_too_large(int(declared)), permanent=True)
        received = 0
        try:
            for chunk in response.iter_bytes(CHUNK_BYTES):
                received += len(chunk)
                if received > MEDIA_MAX_BYTES:
                    raise MediaFetchError(_too_large(received, at_least=True), permanent=True)
                spool.write(chunk)
        except httpx.HTTPError as exc:
            raise MediaFetchError(
                f"{type(exc).__name__} while downloading from {_where(download.url)}."
            ) from None
    finally:
        response.close()
    if received == 0:
        raise MediaFetchError(f"Empty file from {_where(download.url)}.")
    spool.seek(0)
    return response.headers.get("content-type", "").split(";")[0].strip()[:128]


def _media_store(message: Message, *, spool: IO[bytes], mime_type: str) -> str:
    # "audio/ogg; codecs=opus" (a voice note) -> ".oga"; unknown types keep a neutral suffix.
    extension = mimetypes.guess_extension(mime_type.split(";")[0].strip()) or ".bin"
    storage = message.media_file.storage
    name = message.media_file.field.generate_filename(message, f"{message.pk}{extension}")
    saved = storage.save(name, File(spool))
    try:
        with transaction.atomic():
            # A second fetch of the same message (an agent's retry racing the job) may have won.
            updated = Message.dangerously_unscoped_objects.filter(
                pk=message.pk, media_state__in=[MediaState.PENDING, MediaState.FAILED]
            ).update(
                media_file=saved,
                media_state=MediaState.STORED,
                media_error="",
                media_mime_type=mime_type[:128],
            )
    except BaseException:
        storage.delete(saved)
        raise
    if not updated:
        storage.delete(saved)
        return MediaOutcome.SKIPPED
    return MediaOutcome.STORED


def _media_fail(message: Message, *, reason: str) -> None:
    Message.dangerously_unscoped_objects.filter(
        pk=message.pk, media_state__in=[MediaState.PENDING, MediaState.FAILED]
    ).update(media_state=MediaState.FAILED, media_error=reason[:REASON_MAX_LENGTH])
    logger.warning("media fetch failed", extra={"message_id": message.pk, "reason": reason})


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _where(url: str) -> str:
    # The host only: a media link's path and query string may carry a signed token.
    return urlsplit(url).hostname or "the provider"


def _too_large(size: int, *, at_least: bool = False) -> str:
    limit = MEDIA_MAX_BYTES // (1024 * 1024)
    measured = f"more than {limit} MB" if at_least else f"{size / (1024 * 1024):.0f} MB"
    return f"The file is too large ({measured}; the limit is {limit} MB)."


@transaction.atomic
def message_media_retry(*, message: Message) -> None:
    """Queue the fetch of a failed attachment again (an agent's "retry" button).

    Kapso's link travelled with the first fetch job, so it is taken from that job's record.
    """
    from chatdesk.messaging.tasks import message_fetch_media

    locked = (
        Message.dangerously_unscoped_objects.select_for_update()
        .filter(pk=message.pk, workspace_id=message.workspace_id)
        .first()
    )
    if locked is None or locked.media_state != MediaState.FAILED:
        raise ValueError("Only an attachment whose download failed can be retried.")
    Message.dangerously_unscoped_objects.filter(pk=locked.pk).update(
        media_state=MediaState.PENDING, media_error=""
    )
    message_fetch_media.enqueue(message_id=locked.pk, media_url=_known_media_url(locked))


def _known_media_url(message: Message) -> str:
    from django_tasks_db.models import DBTaskResult

    from chatdesk.jobs.models import JobFailure
    from chatdesk.messaging.tasks import message_fetch_media

    if message.channel.kind != ChannelKind.KAPSO:
        return ""
    path = message_fetch_media.module_path
    for records in (
        DBTaskResult.objects.filter(
            task_path=path, args_kwargs__kwargs__message_id=message.pk
        ).order_by("-enqueued_at"),
        JobFailure.objects.filter(task_path=path, args_kwargs__kwargs__message_id=message.pk),
    ):
        for args_kwargs in records.values_list("args_kwargs", flat=True)[:5]:
            if url := args_kwargs.get("kwargs", {}).get("media_url"):
                return url
    return ""
