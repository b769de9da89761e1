"""Inbox search: the same conversations, in list order, page after page, however it finds them.

The selector picks one of four ways to find a page (see `selectors._search`): sort the few
matches, probe the conversations at the top of the list, read the matches of a kind in full
beyond them, or walk the list. Which one runs depends on how common the term is; these tests
force each one (its thresholds patched) on the same data and expect identical pages.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chatdesk.crm.models import ConversationStatus
from chatdesk.inbox import selectors
from tests.factories import make_channel
from tests.inbox.factories import conversation_make, message_make

PATHS = {
    "few matches, sorted": {},
    "probe the window": {"SEARCH_FEW": 0, "SEARCH_WINDOW": 5},
    "read beyond the window": {"SEARCH_FEW": 0, "SEARCH_WINDOW": 2},
    "walk beyond the window": {"SEARCH_FEW": 0, "SEARCH_WINDOW": 2, "SEARCH_MANY": 0},
}


@pytest.fixture(params=list(PATHS))
def search_path(request, monkeypatch):
    for name, value in PATHS[request.param].items():
        monkeypatch.setattr(selectors, name, value)
    return request.param


def _inbox(world, *, count=16):
    """Conversations found by name, by a message, by both, or not at all; pairs share a
    timestamp (ties are broken by id). Returns (conversations, the ids search must find)."""
    now = timezone.now()
    channel = make_channel(world.workspace)
    conversations, expected = [], set()
    for i in range(count):
        by_name, by_text = i % 4 in (0, 3), i % 4 in (1, 3)
        conversation = conversation_make(
            world.workspace,
            channel=channel,
            name=f"Siti Rahma {i}" if by_name else f"Budi {i}",
            last_message_at=now - timedelta(minutes=i // 2),
            status=ConversationStatus.PENDING if i % 3 == 0 else ConversationStatus.OPEN,
        )
        message_make(conversation, text=f"Halo, soal beasiswa RAHMA-{i}" if by_text else "Halo")
        message_make(conversation, text="Terima kasih")
        conversations.append(conversation)
        if by_name or by_text:
            expected.add(conversation.pk)
    return conversations, expected


def _list_order(conversations, ids):
    chosen = [c for c in conversations if c.pk in ids]
    return [c.pk for c in sorted(chosen, key=lambda c: (c.last_message_at, c.pk), reverse=True)]


def _all_pages(world, *, limit, status=selectors.StatusFilter.ALL, q="rahma"):
    seen, pages, cursor = [], 0, None
    while True:
        page = selectors.conversation_list(
            workspace=world.workspace,
            user=world.agent,
            filters=selectors.InboxFilters(status=status, q=q),
            cursor=cursor,
            limit=limit,
        )
        seen += [c.pk for c in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return seen, pages


def test_search_pages_list_every_match_once_in_list_order_whichever_way_it_finds_them(
    world_a, search_path
):
    conversations, expected = _inbox(world_a)
    seen, pages = _all_pages(world_a, limit=3)
    assert seen == _list_order(conversations, expected)  # none repeated, none skipped
    assert pages == 4  # 12 matches, 3 a page: the last page has no "older" link


def test_search_pages_keep_the_other_filters_whichever_way_they_are_found(world_a, search_path):
    conversations, expected = _inbox(world_a)
    pending = {c.pk for c in conversations if c.status == ConversationStatus.PENDING}
    seen, _pages = _all_pages(world_a, limit=2, status=ConversationStatus.PENDING)
    assert seen == _list_order(conversations, expected & pending)


def test_a_search_that_matches_nothing_is_an_empty_page_whichever_way(world_a, search_path):
    _inbox(world_a)
    assert _all_pages(world_a, limit=3, q="zzzz") == ([], 1)


def test_a_search_runs_as_many_queries_for_50_matches_as_for_5(world_a, search_path):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            selectors.conversation_list(
                workspace=world_a.workspace,
                user=world_a.agent,
                filters=selectors.InboxFilters(status=selectors.StatusFilter.ALL, q="rahma"),
                limit=3,
            )
        return len(captured.captured_queries)

    _inbox(world_a, count=8)
    few = queries()
    _inbox(world_a, count=60)
    assert queries() == few
    assert few <= 11  # the page, its labels, and at most 9 to find it (walking beyond the window)


# --- through the inbox page ------------------------------------------------------------------


@pytest.fixture
def signed_in(client, world_a):
    client.force_login(world_a.agent)
    return client


def test_a_conversation_found_by_name_and_by_a_message_is_listed_once(signed_in, world_a):
    both = conversation_make(world_a.workspace, name="Siti Rahma")
    message_make(both, text="Saya Siti Rahma, mau tanya beasiswa")
    url = reverse("inbox:index", kwargs={"workspace_slug": world_a.workspace.slug})
    response = signed_in.get(url, {"q": "Rahma"})
    assert [c.pk for c in response.context["conversations"]] == [both.pk]
    assert response.content.decode().count(f"/inbox/{both.pk}/") == 1


def test_search_result_pages_in_the_inbox_neither_repeat_nor_skip(signed_in, world_a):
    """Two pages of 30 and a bit, matches by name and by text interleaved."""
    conversations, expected = _inbox(world_a, count=90)
    url = reverse("inbox:index", kwargs={"workspace_slug": world_a.workspace.slug})
    response = signed_in.get(url, {"q": "rahma", "status": "all"})
    seen, pages = [], 0
    while True:
        seen += [c.pk for c in response.context["conversations"]]
        pages += 1
        if not response.context["next_page_url"]:
            break
        response = signed_in.get(response.context["next_page_url"])
    assert seen == _list_order(conversations, expected)
    assert (len(seen), pages) == (68, 3)
