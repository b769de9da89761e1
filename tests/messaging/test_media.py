"""Inbound media: fetched by its own retried job, stored, or failed with a readable reason."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from django_tasks_db.models import DBTaskResult

from chatdesk.crm.models import MediaState, Message
from chatdesk.jobs.testing import drain
from chatdesk.messaging import media
from chatdesk.messaging.events import InboundMessage
from chatdesk.messaging.media import message_media_retry
from chatdesk.messaging.models import ChannelKind
from chatdesk.messaging.services import message_store_inbound
from chatdesk.messaging.tasks import message_fetch_media
from tests.factories import make_channel

pytestmark = pytest.mark.django_db

MEDIA_ID = "1584762330819268"
SIGNED_QUERY = "mid=1584762330819268&ext=1793589420&hash=ATsecretSignature42"
LOOKASIDE = f"https://lookaside.fbsbx.com/whatsapp_business/attachments/?{SIGNED_QUERY}"
KAPSO_URL = "https://api.kapso.ai/media/whatsapp/123456789012345/3f9d2a1e/photo.jpg"
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 100


def image_message(channel, *, media_url: str = "", mime_type: str = "image/jpeg") -> Message:
    event = InboundMessage(
        provider_message_id=f"wamid.IMG{channel.pk}",
        wa_id="6281234567890",
        contact_name="Siti",
        type="image",
        text="Foto ijazah saya",
        payload={"id": MEDIA_ID, "mime_type": mime_type, "caption": "Foto ijazah saya"},
        timestamp=datetime(2026, 11, 2, 3, 14, tzinfo=UTC),
        media_id=MEDIA_ID,
        media_mime_type=mime_type,
        media_url=media_url,
    )
    message = message_store_inbound(channel=channel, event=event)
    assert message.media_state == MediaState.PENDING
    return message


def meta_cdn(*, lookup=None, download=None):
    """Meta's two steps: the media lookup on the Graph API, then the download link."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "graph.facebook.com":
            assert request.url.path == f"/v24.0/{MEDIA_ID}"
            if lookup is not None:
                return lookup(request) if callable(lookup) else lookup
            return httpx.Response(
                200,
                json={
                    "messaging_product": "whatsapp",
                    "url": LOOKASIDE,
                    "mime_type": "image/jpeg",
                    "sha256": "m2TqJw0b8Xn6V1yQ0G3uE7Kp4h9sR5aZcLdFeHgIjKo=",
                    "file_size": str(len(JPEG)),
                    "id": MEDIA_ID,
                },
            )
        assert request.url.host == "lookaside.fbsbx.com"
        if download is not None:
            return download(request) if callable(download) else download
        return httpx.Response(200, content=JPEG, headers={"content-type": "image/jpeg"})

    return answer


def fetch_jobs(message) -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(
            task_path=message_fetch_media.module_path,
            args_kwargs__kwargs__message_id=message.pk,
        ).order_by("enqueued_at")
    )


def test_meta_media_is_looked_up_downloaded_with_the_bearer_token_and_stored(fake_provider):
    channel = make_channel()
    message = image_message(channel)
    fake_provider.media = meta_cdn()

    drain(queues=["inbound"])

    message.refresh_from_db()
    assert message.media_state == MediaState.STORED and message.media_error == ""
    assert message.media_file.name.endswith(f"{message.pk}.jpg")
    with message.media_file.open("rb") as stored:
        assert stored.read() == JPEG
    lookup, download = fake_provider.requests
    assert lookup.headers["authorization"] == f"Bearer {channel.api_token}"
    assert download.url == httpx.URL(LOOKASIDE)
    assert download.headers["authorization"] == f"Bearer {channel.api_token}"


def test_expired_meta_media_fails_at_once_with_a_reason_that_hides_the_link(fake_provider):
    message = image_message(make_channel())
    fake_provider.media = meta_cdn(download=httpx.Response(404, text="URL signature expired"))

    drain(queues=["inbound"], include_delayed=True)

    message.refresh_from_db()
    assert message.media_state == MediaState.FAILED
    assert message.media_error == "HTTP 404 from lookaside.fbsbx.com."
    assert len(fake_provider.requests) == 2  # no retry for a permanent error
    assert [row.status for row in fetch_jobs(message)] == ["SUCCESSFUL"]


def test_media_unknown_to_meta_fails_at_once(fake_provider):
    message = image_message(make_channel())
    fake_provider.media = meta_cdn(
        lookup=httpx.Response(
            400, json={"error": {"code": 100, "message": "Unsupported get request."}}
        )
    )

    drain(queues=["inbound"], include_delayed=True)

    message.refresh_from_db()
    assert message.media_state == MediaState.FAILED
    assert message.media_error == "HTTP 400 (error 100) from graph.facebook.com."
    assert len(fake_provider.requests) == 1


def test_media_larger_than_whatsapp_allows_is_refused_before_downloading(fake_provider):
    message = image_message(make_channel())
    fake_provider.media = meta_cdn(
        lookup=httpx.Response(
            200, json={"url": LOOKASIDE, "mime_type": "video/mp4", "file_size": "209715200"}
        )
    )

    drain(queues=["inbound"], include_delayed=True)

    message.refresh_from_db()
    assert message.media_state == MediaState.FAILED
    assert message.media_error == "The file is too large (200 MB; the limit is 100 MB)."
    assert len(fake_provider.requests) == 1


def test_a_download_that_grows_past_the_cap_is_stopped_and_nothing_is_stored(
    fake_provider, monkeypatch, settings
):
    monkeypatch.setattr(media, "MEDIA_MAX_BYTES", 1024)
    message = image_message(make_channel())
    # No Content-Length: the cap is enforced while streaming.
    fake_provider.media = meta_cdn(
        lookup=httpx.Response(200, json={"url": LOOKASIDE}),
        download=httpx.Response(200, content=iter([b"x" * 600, b"x" * 600, b"x" * 600])),
    )

    drain(queues=["inbound"], include_delayed=True)

    message.refresh_from_db()
    assert message.media_state == MediaState.FAILED
    assert "too large" in message.media_error
    assert not message.media_file
    assert not (settings.MEDIA_ROOT / "media").exists()


def test_a_transient_outage_is_retried_with_backoff_until_the_media_is_stored(
    fake_provider, no_jitter
):
    message = image_message(make_channel())
    downloads = [httpx.Response(503), httpx.Response(429), None]

    def flaky(request):
        answer = downloads.pop(0)
        return answer or httpx.Response(200, content=JPEG, headers={"content-type": "image/jpeg"})

    fake_provider.media = meta_cdn(download=flaky)

    drain(queues=["inbound"])
    message.refresh_from_db()
    assert message.media_state == MediaState.PENDING  # waiting for its retry, not failed
    retry_row = fetch_jobs(message)[-1]
    assert retry_row.args_kwargs["kwargs"]["_attempt"] == 2
    assert (retry_row.run_after - retry_row.enqueued_at).total_seconds() == pytest.approx(3, abs=1)

    drain(queues=["inbound"], include_delayed=True)

    message.refresh_from_db()
    assert message.media_state == MediaState.STORED
    assert [row.status for row in fetch_jobs(message)] == ["FAILED", "FAILED", "SUCCESSFUL"]


def test_after_the_last_attempt_the_attachment_shows_failed_with_a_short_reason(
    fake_provider, no_jitter
):
    message = image_message(make_channel())

    def unreachable(request):
        raise httpx.ConnectTimeout("timed out", request=request)

    fake_provider.media = meta_cdn(download=unreachable)

    drain(queues=["inbound"], include_delayed=True)

    message.refresh_from_db()
    policy = message_fetch_media.func.job_policy
    assert len(fetch_jobs(message)) == policy.max_attempts
    assert message.media_state == MediaState.FAILED
    assert message.media_error == "ConnectTimeout reaching lookaside.fbsbx.com."
    assert "hash=" not in message.media_error and "secret" not in message.media_error.lower()


def test_kapso_media_is_fetched_from_its_link_with_the_api_key(fake_provider):
    channel = make_channel(kind=ChannelKind.KAPSO)
    message = image_message(channel, media_url=KAPSO_URL)

    def kapso(request):
        assert request.url == httpx.URL(KAPSO_URL)
        return httpx.Response(200, content=JPEG, headers={"content-type": "image/jpeg"})

    fake_provider.media = kapso

    drain(queues=["inbound"])

    message.refresh_from_db()
    assert message.media_state == MediaState.STORED
    (request,) = fake_provider.requests
    assert request.headers["x-api-key"] == channel.api_token
    assert "authorization" not in request.headers


def test_kapso_api_key_never_follows_a_redirect_to_another_host(fake_provider):
    channel = make_channel(kind=ChannelKind.KAPSO)
    message = image_message(channel, media_url=KAPSO_URL)
    storage_url = "https://files.example-cdn.com/photo.jpg?X-Amz-Signature=abc123"

    def kapso(request):
        if request.url.host == "api.kapso.ai":
            return httpx.Response(302, headers={"location": storage_url})
        return httpx.Response(200, content=JPEG, headers={"content-type": "image/jpeg"})

    fake_provider.media = kapso

    drain(queues=["inbound"])

    message.refresh_from_db()
    assert message.media_state == MediaState.STORED
    first, second = fake_provider.requests
    assert first.headers["x-api-key"] == channel.api_token
    assert second.url == httpx.URL(storage_url) and "x-api-key" not in second.headers


def test_kapso_media_without_a_link_fails_with_a_reason():
    message = image_message(make_channel(kind=ChannelKind.KAPSO))

    drain(queues=["inbound"])

    message.refresh_from_db()
    assert message.media_state == MediaState.FAILED
    assert message.media_error == "Kapso sent no link for this attachment."


def test_an_agent_can_retry_a_failed_download_and_kapsos_link_is_reused(fake_provider):
    channel = make_channel(kind=ChannelKind.KAPSO)
    message = image_message(channel, media_url=KAPSO_URL)
    answers = [httpx.Response(404), None]
    fake_provider.media = lambda request: answers.pop(0) or httpx.Response(200, content=JPEG)
    drain(queues=["inbound"])
    message.refresh_from_db()
    assert message.media_state == MediaState.FAILED

    message_media_retry(message=message)

    message.refresh_from_db()
    assert (message.media_state, message.media_error) == (MediaState.PENDING, "")
    drain(queues=["inbound"])
    message.refresh_from_db()
    assert message.media_state == MediaState.STORED
    assert [str(request.url) for request in fake_provider.requests] == [KAPSO_URL, KAPSO_URL]


def test_only_a_failed_download_can_be_retried(fake_provider):
    message = image_message(make_channel())

    with pytest.raises(ValueError, match="download failed"):
        message_media_retry(message=message)

    assert len(fetch_jobs(message)) == 1


def test_a_fetch_job_for_media_already_stored_does_nothing(fake_provider):
    message = image_message(make_channel())
    fake_provider.media = meta_cdn()
    drain(queues=["inbound"])
    stored_as = Message.dangerously_unscoped_objects.get(pk=message.pk).media_file.name

    message_fetch_media.enqueue(message_id=message.pk)
    drain(queues=["inbound"])

    assert len(fake_provider.requests) == 2  # lookup + download, once
    assert Message.dangerously_unscoped_objects.get(pk=message.pk).media_file.name == stored_as


def test_a_web_page_served_instead_of_the_file_is_not_stored_and_is_retried(
    fake_provider, no_jitter
):
    message = image_message(make_channel())
    pages = [
        httpx.Response(
            200,
            text="<html>Sorry, this content isn't available</html>",
            headers={"content-type": "text/html; charset=utf-8"},
        ),
        httpx.Response(200, content=JPEG, headers={"content-type": "image/jpeg"}),
    ]
    fake_provider.media = meta_cdn(download=lambda request: pages.pop(0))

    drain(queues=["inbound"], include_delayed=True)

    message.refresh_from_db()
    assert message.media_state == MediaState.STORED
    with message.media_file.open("rb") as stored:
        assert stored.read() == JPEG
    assert [row.status for row in fetch_jobs(message)] == ["FAILED", "SUCCESSFUL"]


def test_kapso_api_key_is_not_sent_to_a_plain_http_link(fake_provider):
    channel = make_channel(kind=ChannelKind.KAPSO)
    message = image_message(channel, media_url=KAPSO_URL.replace("https://", "http://"))
    fake_provider.media = lambda request: httpx.Response(200, content=JPEG)

    drain(queues=["inbound"])

    message.refresh_from_db()
    assert message.media_state == MediaState.STORED
    assert "x-api-key" not in fake_provider.requests[0].headers
