"""The thread view: pages of messages, what each message shows, unread counts, live updates."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chatdesk.crm.models import (
    Author,
    Conversation,
    Direction,
    MediaState,
    Message,
    MessageStatus,
)
from chatdesk.inbox.selectors import THREAD_PAGE_SIZE, WATCH_MAX, poll_state
from chatdesk.messaging.events import InboundMessage, ParsedDelivery
from chatdesk.messaging.services import webhook_delivery_store
from tests.inbox.factories import conversation_make, message_make

HTMX = {"HX-Request": "true"}
OLDER = re.compile(r'hx-get="[^"]*\?before=([\d.]+)"')


def thread_url(world, conversation, **params):
    url = reverse(
        "inbox:thread",
        kwargs={"workspace_slug": world.workspace.slug, "conversation_id": conversation.pk},
    )
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def shown_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li id="msg-(\d+)"', html)]


@pytest.fixture
def signed_in(client, world_a):
    client.force_login(world_a.agent)
    return client


def make_thread(conversation, count, *, start=None):
    start = start or timezone.now() - timedelta(days=1)
    return [
        message_make(conversation, text=f"message {i}", at=start + timedelta(minutes=i))
        for i in range(count)
    ]


def test_thread_opens_on_the_latest_messages_in_provider_time_order(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    messages = make_thread(conversation, THREAD_PAGE_SIZE + 10)
    # Stored last but sent first (a late webhook): shown where the customer sent it.
    late = message_make(
        conversation, text="late", at=messages[-2].provider_timestamp - timedelta(seconds=1)
    )
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    expected = [m.pk for m in messages[-(THREAD_PAGE_SIZE - 1) :]]
    expected.insert(-2, late.pk)
    assert shown_ids(page) == expected
    assert "Load older messages" in page


def test_older_messages_load_by_keyset_without_gaps_or_repeats(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    same_time = timezone.now() - timedelta(days=2)
    # Many share one timestamp: the id breaks the tie across page boundaries.
    messages = [message_make(conversation, text=f"m{i}", at=same_time) for i in range(20)]
    messages += make_thread(conversation, THREAD_PAGE_SIZE * 2)
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    seen, pages = shown_ids(page), 1
    with CaptureQueriesContext(connection) as queries:
        while match := OLDER.search(page):
            older = signed_in.get(thread_url(world_a, conversation, before=match[1]), headers=HTMX)
            page = older.content.decode()
            assert "<html" not in page  # only the older messages, swapped in above
            seen = shown_ids(page) + seen
            pages += 1
    assert pages == 3  # 80 messages, 30 a page
    assert seen == [m.pk for m in sorted(messages, key=lambda m: (m.provider_timestamp, m.pk))]
    assert not [q["sql"] for q in queries.captured_queries if "OFFSET" in q["sql"].upper()]


def test_older_page_link_works_without_javascript(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    messages = make_thread(conversation, THREAD_PAGE_SIZE + 3)
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    href = re.search(r'<a href="([^"]*\?before=[^"]*)"', page).group(1).replace("&amp;", "&")
    older = signed_in.get(href).content.decode()
    assert shown_ids(older) == [m.pk for m in messages[:3]]
    assert "Newest messages" in older and "<html" in older


def test_a_bad_older_link_is_an_error_and_shows_the_latest_messages(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    message = message_make(conversation, text="latest")
    response = signed_in.get(thread_url(world_a, conversation, before="abc"))
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert shown_ids(response.content.decode()) == [message.pk]


@pytest.mark.parametrize("with_media", [False, True])
def test_the_thread_runs_the_same_number_of_queries_for_5_or_50_messages(
    signed_in, world_a, django_assert_max_num_queries, with_media
):
    conversation = conversation_make(world_a.workspace, assignee=world_a.admin)
    extra = {"media_state": MediaState.STORED, "type": "image"} if with_media else {}

    def add(count):
        for i in range(count):
            direction = Direction.OUTBOUND if i % 2 else Direction.INBOUND
            sent_by = world_a.agent if direction == Direction.OUTBOUND else None
            message_make(conversation, text=f"m{i}", direction=direction, sent_by=sent_by, **extra)

    add(5)
    with CaptureQueriesContext(connection) as small:
        signed_in.get(thread_url(world_a, conversation))
    add(45)
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = signed_in.get(thread_url(world_a, conversation))
    assert len(shown_ids(page.content.decode())) == THREAD_PAGE_SIZE


def test_each_message_shows_direction_author_and_delivery_ticks(signed_in, world_a):
    world_a.agent.first_name, world_a.agent.last_name = "Ayu", "Lestari"
    world_a.agent.save()
    conversation = conversation_make(world_a.workspace, name="Siti Rahma")
    inbound = message_make(conversation, text="Halo")
    by_agent = message_make(
        conversation,
        text="Hai Siti",
        direction=Direction.OUTBOUND,
        sent_by=world_a.agent,
        status=MessageStatus.READ,
    )
    by_assistant = message_make(
        conversation,
        text="Pendaftaran dibuka",
        direction=Direction.OUTBOUND,
        author=Author.ASSISTANT,
        status=MessageStatus.DELIVERED,
    )
    queued = message_make(
        conversation, text="sebentar", direction=Direction.OUTBOUND, status=MessageStatus.QUEUED
    )
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    item = {m.pk: _item(page, m.pk) for m in (inbound, by_agent, by_assistant, queued)}
    assert "is-in" in item[inbound.pk] and "Siti Rahma" in item[inbound.pk]
    assert "msg-status" not in item[inbound.pk]
    assert "is-out" in item[by_agent.pk] and "Ayu Lestari" in item[by_agent.pk]
    assert "tick-read" in item[by_agent.pk] and "✓✓" in item[by_agent.pk]
    assert "Assistant" in item[by_assistant.pk] and "Delivered" in item[by_assistant.pk]
    assert "tick-queued" in item[queued.pk] and "Queued" in item[queued.pk]


def _item(page: str, pk: int) -> str:
    start = page.index(f'<li id="msg-{pk}"')
    return page[start : page.index("</li>", start)]


def test_a_failed_message_shows_the_providers_reason(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    failed = message_make(
        conversation,
        text="Promo",
        direction=Direction.OUTBOUND,
        status=MessageStatus.FAILED,
        error_code="131026",
        error_reason="Message undeliverable: the number is not on WhatsApp",
    )
    item = _item(signed_in.get(thread_url(world_a, conversation)).content.decode(), failed.pk)
    assert "Not delivered" in item
    assert "the number is not on WhatsApp" in item and "131026" in item


def test_private_notes_are_marked_as_such(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    note = message_make(
        conversation,
        text="VIP, call back",
        direction=Direction.OUTBOUND,
        is_private_note=True,
        sent_by=world_a.agent,
        status=MessageStatus.RECEIVED,
    )
    item = _item(signed_in.get(thread_url(world_a, conversation)).content.decode(), note.pk)
    assert "is-note" in item and "Private note" in item
    assert "msg-status" not in item  # a note is never delivered, so it has no ticks


def test_media_placeholders_show_their_state_and_failed_ones_offer_a_retry(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    pending = message_make(conversation, text="", type="image", media_state=MediaState.PENDING)
    failed = message_make(
        conversation,
        text="",
        type="document",
        media_state=MediaState.FAILED,
        media_error="HTTP 404 from lookaside.fbsbx.com.",
    )
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    assert "downloading" in _item(page, pending.pk)
    failed_item = _item(page, failed.pk)
    assert "could not be downloaded: HTTP 404 from lookaside.fbsbx.com." in failed_item
    assert "Retry download" in failed_item
    assert "Retry download" not in _item(page, pending.pk)


def test_closed_window_composer_explains_and_disables_free_text(signed_in, world_a):
    conversation = conversation_make(world_a.workspace, inbound_minutes_ago=25 * 60)
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    composer = page[
        page.index('id="composer"') : page.index("</form>", page.index('id="composer"'))
    ]
    assert "24-hour window is closed" in composer and "approved message templates" in composer
    assert re.search(r"<button type=\"submit\" disabled[^>]*>Send</button>", composer)
    assert "Add private note" in composer  # notes are still possible


def test_open_window_composer_allows_free_text(signed_in, world_a):
    conversation = conversation_make(world_a.workspace, inbound_minutes_ago=10)
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    assert "window is closed" not in page
    assert '<button type="submit">Send</button>' in page


def _inbound(channel, wamid, text="Halo", wa_id="6281234567890"):
    event = InboundMessage(
        provider_message_id=wamid,
        wa_id=wa_id,
        contact_name="Siti",
        type="text",
        text=text,
        payload={"body": text},
        timestamp=datetime.now(UTC),
    )
    webhook_delivery_store(
        channel=channel,
        idempotency_key=wamid,
        body=wamid.encode(),
        delivery=ParsedDelivery([event]),
    )


def test_unread_count_grows_with_each_inbound_message_and_resets_when_opened(signed_in, world_a):
    from tests.factories import make_channel

    channel = make_channel(world_a.workspace)
    _inbound(channel, "wamid.1")
    _inbound(channel, "wamid.2")
    _inbound(channel, "wamid.2")  # a duplicate delivery is not a new unread message
    conversation = Conversation.objects.for_workspace(world_a.workspace).get()
    assert conversation.unread_count == 2
    signed_in.get(thread_url(world_a, conversation))
    conversation.refresh_from_db()
    assert conversation.unread_count == 0
    _inbound(channel, "wamid.3")
    conversation.refresh_from_db()
    assert conversation.unread_count == 1


def _poll_url(page_html: str) -> str:
    return (
        re.search(r'id="thread-poller" hx-get="([^"]+)"', page_html).group(1).replace("&amp;", "&")
    )


def test_poll_returns_only_new_messages_and_changed_ticks(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    old = message_make(conversation, text="old question")
    sent = message_make(
        conversation, text="our answer", direction=Direction.OUTBOUND, status=MessageStatus.SENT
    )
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    poll = _poll_url(page)
    assert signed_in.get(poll, headers=HTMX).status_code == 204  # nothing happened yet

    new = message_make(conversation, text="a brand new question")
    sent.status = MessageStatus.DELIVERED
    sent.save()
    response = signed_in.get(poll, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'hx-swap-oob="beforeend:#thread-messages"' in body
    assert shown_ids(body) == [sent.pk, new.pk] or set(shown_ids(body)) == {sent.pk, new.pk}
    assert old.pk not in shown_ids(body)
    assert f'<li id="msg-{sent.pk}"' in body and "Delivered" in _item(body, sent.pk)
    assert 'hx-swap-oob="true"' in _item(body, sent.pk)  # replaces the shown one in place

    # The next poll starts from the new state: nothing is repeated.
    assert signed_in.get(_poll_url(body), headers=HTMX).status_code == 204


def test_poll_picks_up_a_lower_id_that_committed_late(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    first = message_make(conversation, text="first")
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    late, shown = message_make(conversation, text="late"), message_make(conversation, text="shown")
    # Pretend `late` was not committed yet when the poll ran: the poll sees `shown` only.
    late_pk = late.pk
    late.delete()
    body = signed_in.get(_poll_url(page), headers=HTMX).content.decode()
    assert shown_ids(body) == [shown.pk]
    message_make(conversation, text="late", id=late_pk)  # now it commits, with its lower id
    body = signed_in.get(_poll_url(body), headers=HTMX).content.decode()
    assert shown_ids(body) == [late_pk]
    assert first.pk not in shown_ids(body)


def test_new_inbound_messages_seen_through_the_poll_are_not_counted_unread(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    message_make(conversation, text="new")
    Conversation.objects.for_workspace(world_a.workspace).filter(pk=conversation.pk).update(
        unread_count=1
    )
    signed_in.get(_poll_url(page), headers=HTMX)
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


def test_a_tampered_poll_state_is_a_400(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    url = reverse(
        "inbox:thread-poll",
        kwargs={"workspace_slug": world_a.workspace.slug, "conversation_id": conversation.pk},
    )
    assert signed_in.get(f"{url}?after=x", headers=HTMX).status_code == 400
    assert signed_in.get(f"{url}?after=1&known=1:a:b", headers=HTMX).status_code == 400


def test_poll_query_count_does_not_grow_with_the_number_of_new_messages(
    signed_in, world_a, django_assert_max_num_queries
):
    conversation = conversation_make(world_a.workspace)
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    poll = _poll_url(page)
    for i in range(3):
        message_make(
            conversation, text=f"n{i}", direction=Direction.OUTBOUND, sent_by=world_a.agent
        )
    with CaptureQueriesContext(connection) as small:
        signed_in.get(poll, headers=HTMX)
    for i in range(30):
        message_make(
            conversation, text=f"n{i}", direction=Direction.OUTBOUND, sent_by=world_a.agent
        )
    with django_assert_max_num_queries(len(small.captured_queries)):
        body = signed_in.get(poll, headers=HTMX).content.decode()
    assert len(shown_ids(body)) == 33


def _age(conversation, minutes=60):
    Message.objects.for_workspace(conversation.workspace).filter(conversation=conversation).update(
        created_at=timezone.now() - timedelta(minutes=minutes)
    )


def test_the_poll_state_in_the_url_stays_bounded_for_long_threads(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    for i in range(120):
        message_make(
            conversation, text=f"q{i}", direction=Direction.OUTBOUND, status=MessageStatus.DELIVERED
        )
    _age(conversation)  # delivered an hour ago, never read: their ticks may still change
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    known = parse_qs(urlsplit(_poll_url(page)).query)["known"][0]
    assert len(known.split(",")) == THREAD_PAGE_SIZE  # the shown ones, none of the older
    # However many the thread has shown by polling, at most WATCH_MAX are watched.
    everything = list(
        Message.objects.for_workspace(world_a.workspace).filter(conversation=conversation)
    )
    state = poll_state(shown=everything, after=0)
    assert len(state.known) == WATCH_MAX
    assert max(state.known) == max(m.pk for m in everything)  # the newest ones


def test_old_messages_stored_late_are_not_pushed_as_new_by_the_poll(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    make_thread(conversation, 3)
    # An import adds last year's history after today's messages: higher ids, older times.
    message_make(conversation, text="from the old system", at=timezone.now() - timedelta(days=365))
    _age(conversation)
    page = signed_in.get(thread_url(world_a, conversation)).content.decode()
    assert "from the old system" in page  # it is in the thread, at its place in time
    assert signed_in.get(_poll_url(page), headers=HTMX).status_code == 204
