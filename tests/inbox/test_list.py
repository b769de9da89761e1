"""The conversation list: filters, search, order, keyset pages, unread counts, live refresh."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chatdesk.crm.models import ConversationStatus
from chatdesk.inbox.selectors import LIST_PAGE_SIZE
from tests.factories import make_channel
from tests.inbox.factories import conversation_make, label_make, message_make


def index_url(world, **params):
    from urllib.parse import urlencode

    url = reverse("inbox:index", kwargs={"workspace_slug": world.workspace.slug})
    return f"{url}?{urlencode(params)}" if params else url


def listed_ids(response) -> list[int]:
    return [c.pk for c in response.context["conversations"]]


@pytest.fixture
def signed_in(client, world_a):
    client.force_login(world_a.agent)
    return client


@pytest.mark.parametrize(
    "status", [ConversationStatus.OPEN, ConversationStatus.PENDING, ConversationStatus.RESOLVED]
)
def test_status_filter_lists_only_conversations_in_that_status(signed_in, world_a, status):
    by_status = {s: conversation_make(world_a.workspace, status=s) for s in ConversationStatus}
    response = signed_in.get(index_url(world_a, status=status))
    assert listed_ids(response) == [by_status[status].pk]


def test_the_default_list_is_open_conversations_and_all_lists_every_status(signed_in, world_a):
    conversations = [conversation_make(world_a.workspace, status=s) for s in ConversationStatus]
    assert listed_ids(signed_in.get(index_url(world_a))) == [conversations[0].pk]
    everything = signed_in.get(index_url(world_a, status="all"))
    assert sorted(listed_ids(everything)) == sorted(c.pk for c in conversations)


def test_mine_unassigned_and_everyones_filters_follow_the_assignee(signed_in, world_a):
    mine = conversation_make(world_a.workspace, assignee=world_a.agent)
    colleagues = conversation_make(world_a.workspace, assignee=world_a.admin)
    nobodys = conversation_make(world_a.workspace)
    assert listed_ids(signed_in.get(index_url(world_a, assigned="mine"))) == [mine.pk]
    assert listed_ids(signed_in.get(index_url(world_a, assigned="unassigned"))) == [nobodys.pk]
    assert sorted(listed_ids(signed_in.get(index_url(world_a, assigned="all")))) == sorted(
        [mine.pk, colleagues.pk, nobodys.pk]
    )


def test_channel_filter_lists_only_that_channels_conversations(signed_in, world_a):
    first, second = make_channel(world_a.workspace), make_channel(world_a.workspace)
    on_first = conversation_make(world_a.workspace, channel=first)
    conversation_make(world_a.workspace, channel=second)
    assert listed_ids(signed_in.get(index_url(world_a, channel=first.pk))) == [on_first.pk]


def test_label_filter_lists_only_conversations_with_that_label(signed_in, world_a):
    label = label_make(world_a.workspace)
    labelled = conversation_make(world_a.workspace)
    labelled.labels.add(label, label_make(world_a.workspace, name="Other"))
    conversation_make(world_a.workspace)
    assert listed_ids(signed_in.get(index_url(world_a, label=label.pk))) == [labelled.pk]


@pytest.mark.parametrize("flag", ["needs_human", "needs_template"])
def test_needs_human_and_needs_template_filters_list_only_flagged_conversations(
    signed_in, world_a, flag
):
    flagged = conversation_make(world_a.workspace, **{flag: True})
    conversation_make(world_a.workspace)
    assert listed_ids(signed_in.get(index_url(world_a, **{flag: "on"}))) == [flagged.pk]


def test_search_finds_contact_name_case_insensitively(signed_in, world_a):
    siti = conversation_make(world_a.workspace, name="Siti Rahma")
    conversation_make(world_a.workspace, name="Budi Santoso")
    assert listed_ids(signed_in.get(index_url(world_a, q="rahma"))) == [siti.pk]


@pytest.mark.parametrize("typed", ["+62 812 555 0199", "0199", "62812-5550199"])
def test_search_finds_a_phone_number_however_it_is_typed(signed_in, world_a, typed):
    wanted = conversation_make(world_a.workspace, wa_id="628125550199")
    conversation_make(world_a.workspace, wa_id="628127770123")
    assert listed_ids(signed_in.get(index_url(world_a, q=typed))) == [wanted.pk]


def test_search_finds_text_of_any_message_in_the_conversation(signed_in, world_a):
    wanted = conversation_make(world_a.workspace, name="A")
    message_make(wanted, text="Apakah ada BEASISWA untuk S2?")
    message_make(wanted, text="Terima kasih")
    other = conversation_make(world_a.workspace, name="B")
    message_make(other, text="Jadwal ujian kapan?")
    assert listed_ids(signed_in.get(index_url(world_a, q="beasiswa"))) == [wanted.pk]


def test_search_never_finds_another_workspaces_conversations(signed_in, world_a, world_b):
    theirs = conversation_make(world_b.workspace, name="Siti Rahma")
    message_make(theirs, text="Siti Rahma here")
    assert listed_ids(signed_in.get(index_url(world_a, q="Siti"))) == []


def test_a_one_letter_search_is_refused_with_a_message(signed_in, world_a):
    conversation_make(world_a.workspace)
    response = signed_in.get(index_url(world_a, q="s"))
    assert response.status_code == 400
    assert "at least 2 characters" in response.content.decode()


@pytest.mark.parametrize("field", ["channel", "label"])
def test_another_workspaces_channel_or_label_in_the_filter_is_an_error(
    signed_in, world_a, world_b, field
):
    foreign = (
        make_channel(world_b.workspace) if field == "channel" else label_make(world_b.workspace)
    )
    mine = conversation_make(world_a.workspace)
    response = signed_in.get(index_url(world_a, **{field: foreign.pk}))
    assert response.status_code == 400
    assert "not one of this workspace" in response.content.decode()
    assert listed_ids(response) == [mine.pk]  # the bad filter is dropped, not applied


def test_newest_activity_comes_first(signed_in, world_a):
    now = timezone.now()
    old = conversation_make(world_a.workspace, last_message_at=now - timedelta(days=2))
    new = conversation_make(world_a.workspace, last_message_at=now - timedelta(minutes=1))
    middle = conversation_make(world_a.workspace, last_message_at=now - timedelta(hours=3))
    assert listed_ids(signed_in.get(index_url(world_a))) == [new.pk, middle.pk, old.pk]


def test_keyset_pages_cover_every_conversation_once_and_never_use_offset(signed_in, world_a):
    now = timezone.now()
    channel = make_channel(world_a.workspace)
    conversations = []
    for i in range(LIST_PAGE_SIZE * 2 + 7):
        # Groups of three share a timestamp: ties must be broken by id, not lost or repeated.
        at = now - timedelta(minutes=i // 3)
        conversations.append(
            conversation_make(world_a.workspace, channel=channel, last_message_at=at)
        )
    expected = [
        c.pk for c in sorted(conversations, key=lambda c: (c.last_message_at, c.pk), reverse=True)
    ]
    seen, url, pages = [], index_url(world_a), 0
    with CaptureQueriesContext(connection) as queries:
        while url:
            response = signed_in.get(url)
            seen += listed_ids(response)
            url = response.context["next_page_url"]
            pages += 1
    assert seen == expected
    assert pages == 3
    assert not [q["sql"] for q in queries.captured_queries if "OFFSET" in q["sql"].upper()]


def test_a_conversation_that_moves_to_the_top_between_pages_is_not_listed_twice(signed_in, world_a):
    now = timezone.now()
    channel = make_channel(world_a.workspace)
    conversations = [
        conversation_make(
            world_a.workspace, channel=channel, last_message_at=now - timedelta(minutes=i)
        )
        for i in range(LIST_PAGE_SIZE + 5)
    ]
    first = signed_in.get(index_url(world_a))
    # The last one of the first page gets a new message: it jumps to the top of page one.
    moved = conversations[LIST_PAGE_SIZE - 1]
    moved.last_message_at = now + timedelta(seconds=1)
    moved.save()
    second = signed_in.get(first.context["next_page_url"])
    assert moved.pk not in listed_ids(second)
    assert listed_ids(second) == [c.pk for c in conversations[LIST_PAGE_SIZE:]]


def test_a_tampered_page_cursor_is_an_error_and_shows_the_first_page(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    response = signed_in.get(index_url(world_a, cursor="yesterday"))
    assert response.status_code == 400
    assert "page link is not valid" in response.content.decode()
    assert listed_ids(response) == [conversation.pk]


def _fill(world, count, *, batch: str):
    channel = make_channel(world.workspace)
    labels = [label_make(world.workspace, name=f"{batch}{i}") for i in range(3)]
    for i in range(count):
        conversation = conversation_make(
            world.workspace,
            channel=channel,
            assignee=world.agent if i % 2 else world.admin,
            unread_count=i % 3,
        )
        conversation.labels.add(*labels[: i % 3])
        message_make(conversation, text=f"message {i}")


@pytest.mark.parametrize("params", [{}, {"q": "message"}, {"status": "all", "assigned": "mine"}])
def test_the_list_runs_the_same_number_of_queries_for_5_or_50_conversations(
    signed_in, world_a, world_b, django_assert_max_num_queries, params
):
    _fill(world_a, 5, batch="small")
    with CaptureQueriesContext(connection) as small:
        assert signed_in.get(index_url(world_a, **params)).status_code == 200
    _fill(world_a, 45, batch="large")
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = signed_in.get(index_url(world_a, **params))
    assert len(response.context["conversations"]) > 5
    # 12 + the nav's review badge and notification bell; a search first reads its matches from
    # the indexes (contacts, messages: 2 queries), so its page cost follows the page, not them.
    assert len(small.captured_queries) <= 14 + (2 if "q" in params else 0)


def test_list_shows_unread_counts_and_last_message_preview(signed_in, world_a):
    conversation = conversation_make(world_a.workspace, name="Siti", unread_count=3)
    message_make(conversation, text="Apakah pendaftaran masih dibuka?")
    page = signed_in.get(index_url(world_a)).content.decode()
    assert '3<span class="visually-hidden"> unread</span>' in page
    assert "Apakah pendaftaran masih dibuka?" in page


def test_private_notes_are_not_used_as_the_list_preview(signed_in, world_a):
    conversation = conversation_make(world_a.workspace)
    message_make(conversation, text="Customer question")
    message_make(conversation, text="Internal: VIP", direction="out", is_private_note=True)
    assert "Internal: VIP" not in signed_in.get(index_url(world_a)).content.decode()


def test_list_poll_answers_204_when_nothing_changed_and_the_new_list_when_it_did(
    signed_in, world_a
):
    conversation = conversation_make(world_a.workspace)
    page = signed_in.get(index_url(world_a))
    poll_url = page.context["list_poll_url"]
    fingerprint = page.context["list_fingerprint"]
    unchanged = signed_in.get(f"{poll_url}&v={fingerprint}", headers={"HX-Request": "true"})
    assert unchanged.status_code == 204
    newcomer = conversation_make(world_a.workspace, name="Newcomer Nadia")
    changed = signed_in.get(f"{poll_url}&v={fingerprint}", headers={"HX-Request": "true"})
    assert changed.status_code == 200
    body = changed.content.decode()
    assert "Newcomer Nadia" in body and 'id="conversation-list"' in body
    assert "<html" not in body  # only the partial
    assert listed_ids(changed) == [newcomer.pk, conversation.pk]
