"""Reads for the team inbox: the conversation list, a thread's pages and what changed since a poll.

Every list is keyset-paginated (a cursor of the last row's sort key, never OFFSET), so a page
costs the same at row 30 and at row 300,000, and rows arriving meanwhile neither repeat nor
vanish. Each filter has an index ending in the list's order (crm migrations 0004 and 0005).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models.functions import Concat
from django.utils import timezone

from chatdesk.crm.models import (
    Contact,
    Conversation,
    Direction,
    Label,
    MediaState,
    Message,
    MessageStatus,
)
from chatdesk.messaging.models import Channel, MessageTemplate
from chatdesk.tenancy.models import Membership, Workspace

LIST_PAGE_SIZE = 30
THREAD_PAGE_SIZE = 30
# A poll answers at most this many new messages; a tab that fell further behind reloads.
POLL_MAX_NEW = 100
# Messages whose state may still change (ticks, media), watched by the open thread's poll.
WATCH_MAX = 50
# A message id older than this is assumed committed: a lower id that committed late (two
# concurrent inserts) is still picked up by the poll until then. See `poll_state`.
SETTLE = timedelta(seconds=30)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Pages show a channel's name and number only: its encrypted credentials are neither read nor
# decrypted (a cost per row, and secrets have no business in a page's memory).
_CHANNEL_SECRETS = (
    "channel__signing_secret",
    "channel__previous_signing_secret",
    "channel__api_token",
    "channel__verify_token",
)
_PHONEISH = re.compile(r"[\d\s+().-]+")
# Search (see `_search`). Measured at 1M messages: reading a match from a trigram index costs
# 3-8 µs, probing a conversation 0.1-0.3 ms (it reads the conversation's messages; those at the
# top of the list are the long ones). A term with at most SEARCH_FEW matches of each kind is
# rare; the first SEARCH_WINDOW conversations are probed for a common one; beyond them, a kind
# with at most SEARCH_MANY matches is still cheaper to read in full than to walk to.
SEARCH_FEW = 300
SEARCH_WINDOW = 3 * (LIST_PAGE_SIZE + 1)
SEARCH_MANY = 10_000
_LIST_ORDER = ("-last_message_at", "-id")
_LIST_KEY = ("last_message_at", "pk")


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    """A position in a list: the sort key of the last row seen (a timestamp and an id)."""

    at: datetime
    pk: int

    def encode(self) -> str:
        # Whole microseconds: exact (a float of seconds would lose the last digits).
        delta = self.at - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return f"{micros}.{self.pk}"

    @classmethod
    def decode(cls, raw: str) -> Cursor:
        try:
            micros, pk = (int(part) for part in raw.split("."))
            if micros < 0 or pk < 1:
                raise ValueError
            return cls(at=_EPOCH + timedelta(microseconds=micros), pk=pk)
        except (ValueError, OverflowError):
            raise InvalidCursorError(raw) from None


@dataclass
class Page:
    items: list
    next_cursor: Cursor | None = None


class StatusFilter:
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    ALL = "all"


class AssignedFilter:
    ALL = "all"
    MINE = "mine"
    UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class InboxFilters:
    status: str = StatusFilter.OPEN
    assigned: str = AssignedFilter.ALL
    channel_id: int | None = None
    label_id: int | None = None
    needs_human: bool = False
    needs_template: bool = False
    q: str = ""


def conversation_list(
    *,
    workspace: Workspace,
    user,
    filters: InboxFilters,
    cursor: Cursor | None = None,
    limit: int = LIST_PAGE_SIZE,
) -> Page:
    """One page of conversations, newest activity first, each with its last message's preview.

    A fixed number of queries whatever the page holds: the page itself (preview by subquery)
    and one prefetch of the labels.
    """
    conversations = Conversation.objects.for_workspace(workspace).filter(
        last_message_at__isnull=False  # no activity yet: nothing to read
    )
    if filters.status != StatusFilter.ALL:
        conversations = conversations.filter(status=filters.status)
    if filters.assigned == AssignedFilter.MINE:
        conversations = conversations.filter(assignee=user)
    elif filters.assigned == AssignedFilter.UNASSIGNED:
        conversations = conversations.filter(assignee__isnull=True)
    if filters.channel_id:
        conversations = conversations.filter(channel_id=filters.channel_id)
    if filters.label_id:
        conversations = conversations.filter(labels__id=filters.label_id)
    if filters.needs_human:
        conversations = conversations.filter(needs_human=True)
    if filters.needs_template:
        conversations = conversations.filter(needs_template=True)
    if cursor is not None:
        # `<=` first: an index range condition that skips every earlier page; the OR only
        # breaks ties between rows with the same timestamp.
        conversations = conversations.filter(
            Q(last_message_at__lte=cursor.at)
            & (Q(last_message_at__lt=cursor.at) | Q(id__lt=cursor.pk))
        )
    if filters.q:
        # After the cursor: the search reads only from this page on.
        conversations = _search(conversations, workspace=workspace, q=filters.q, limit=limit)
    last_message = (
        Message.objects.for_workspace(workspace)
        .filter(conversation=OuterRef("pk"), is_private_note=False)
        .order_by("-provider_timestamp", "-id")
    )
    rows = list(
        conversations.select_related("contact", "channel", "assignee")
        .defer(*_CHANNEL_SECRETS)
        .prefetch_related(
            Prefetch("labels", queryset=Label.objects.for_workspace(workspace).order_by("name"))
        )
        .annotate(
            preview_text=Subquery(last_message.values("text")[:1]),
            preview_type=Subquery(last_message.values("type")[:1]),
            preview_direction=Subquery(last_message.values("direction")[:1]),
        )
        .order_by("-last_message_at", "-id")[: limit + 1]
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = Cursor(at=rows[-1].last_message_at, pk=rows[-1].pk)
    return Page(items=rows, next_cursor=next_cursor)


def _search(conversations: QuerySet, *, workspace: Workspace, q: str, limit: int) -> QuerySet:
    """The first `limit + 1` conversations of `conversations` (filtered, cursor applied, in
    list order) whose contact's name or phone digits, or any message's text, contain `q`.

    The cost must follow the page, not the number of matches: sorting every match of a word
    found in 9% of a million messages took half a second. Two plans exist: read the matches
    from the trigram indexes (crm migration 0005) and sort only their conversations (cheap
    when they are few), or walk the list and probe each conversation until the page is full
    (cheap when they are dense). PostgreSQL cannot estimate `LIKE '%term%'` well enough to
    choose, so what the indexes return decides:
    1. Read at most SEARCH_FEW matches of each kind (contacts, messages). Both under it: the
       matches are known in full; sort their conversations.
    2. Otherwise the term is common: walk the first SEARCH_WINDOW conversations. A full page
       there (or a list no longer than that) is the answer.
    3. Otherwise (common, but sparse at the top of this filtered list): a kind with at most
       SEARCH_MANY matches is read in full and sorted; a kind with more is dense enough that
       walking the list reaches the end of the page soon.
    Whichever step answers, the rows and their order are the same.
    """
    contacts = Contact.objects.for_workspace(workspace).filter(_contact_match(q))
    messages = Message.objects.for_workspace(workspace).filter(text__icontains=q)
    # Deliberately not the trigram index's expression (UPPER("text")): a probe reads one
    # conversation's messages and stops at the first match, where PostgreSQL could otherwise
    # choose to read every match of the term through the index first (the cost avoided here).
    probe = Exists(
        Message.objects.for_workspace(workspace)
        .filter(conversation=OuterRef("pk"))
        .annotate(unindexed_text=Concat("text", Value(""), output_field=TextField()))
        .filter(unindexed_text__icontains=q)
    )

    def read(cap: int) -> tuple[list[int], list[int]]:
        # Message rows, not distinct conversations: the cap bounds what reading them costs.
        return (
            list(contacts.values_list("pk", flat=True)[: cap + 1]),
            list(messages.values_list("conversation_id", flat=True)[: cap + 1]),
        )

    def page_of(contact_half: Q, text_half: Q | Exists) -> QuerySet:
        # Each half in list order, cut at limit + 1; the first limit + 1 of both together are
        # the page's (and one more: is there a next page?); found by both counts once.
        keys: set[tuple[datetime, int]] = set()
        for half in (contact_half, text_half):
            matching = conversations.filter(half).order_by(*_LIST_ORDER)
            keys.update(matching.values_list(*_LIST_KEY)[: limit + 1])
        first = sorted(keys, reverse=True)[: limit + 1]
        return conversations.filter(pk__in=[pk for _at, pk in first])

    contact_ids, text_ids = read(SEARCH_FEW)
    if len(contact_ids) <= SEARCH_FEW and len(text_ids) <= SEARCH_FEW:
        # The page's own query sorts these few (an index lookup each).
        return conversations.filter(Q(contact_id__in=contact_ids) | Q(pk__in=set(text_ids)))

    # The window: its ids, then one probe per conversation, as a subquery per row in the
    # SELECT list rather than a join, so the plan stays one index lookup per row whatever
    # PostgreSQL guesses the term's frequency to be.
    window = list(conversations.order_by(*_LIST_ORDER).values_list("pk", flat=True)[:SEARCH_WINDOW])
    hits = dict(
        Conversation.objects.for_workspace(workspace)
        .filter(pk__in=window)
        .annotate(
            hit=ExpressionWrapper(
                _contact_match(q, via="contact__") | Q(probe), output_field=BooleanField()
            )
        )
        .values_list("pk", "hit")
    )
    found = [pk for pk in window if hits.get(pk)][: limit + 1]
    if len(found) > limit or len(window) < SEARCH_WINDOW:
        return conversations.filter(pk__in=found)

    if len(contact_ids) > SEARCH_FEW or len(text_ids) > SEARCH_FEW:
        more_contacts, more_texts = read(SEARCH_MANY)
        if len(contact_ids) > SEARCH_FEW:
            contact_ids = more_contacts
        if len(text_ids) > SEARCH_FEW:
            text_ids = more_texts
    return page_of(
        Q(contact_id__in=contact_ids)
        if len(contact_ids) <= SEARCH_MANY
        else Q(contact__in=contacts.values("pk")),
        Q(pk__in=set(text_ids)) if len(text_ids) <= SEARCH_MANY else probe,
    )


def _contact_match(q: str, *, via: str = "") -> Q:
    """A contact whose name or phone digits contain `q` (`via`: the path to the contact)."""
    match = Q(**{f"{via}name__icontains": q})
    digits = re.sub(r"\D", "", q)
    if len(digits) >= 3 and _PHONEISH.fullmatch(q):
        # "+62 812-345" and "62812345" find the same contact: wa_id holds the number's digits.
        match |= Q(**{f"{via}wa_id__contains": digits})
    return match


def list_fingerprint(conversations: Iterable[Conversation]) -> str:
    """Changes whenever a row of the page would render differently (the list poll's ETag)."""
    parts = [
        (
            c.pk,
            c.last_message_at.isoformat() if c.last_message_at else "",
            c.unread_count,
            c.status,
            c.assignee_id,
            c.needs_human,
            c.needs_template,
            c.assistant_paused,
            tuple(label.pk for label in c.labels.all()),
        )
        for c in conversations
    ]
    return hashlib.blake2s(repr(parts).encode(), digest_size=8).hexdigest()


def conversation_get(*, workspace: Workspace, conversation_id: int) -> Conversation:
    """Raises Conversation.DoesNotExist, also for another workspace's id."""
    conversation = (
        Conversation.objects.for_workspace(workspace)
        .select_related("contact", "channel", "assignee")
        .defer(*_CHANNEL_SECRETS)
        .prefetch_related(
            Prefetch("labels", queryset=Label.objects.for_workspace(workspace).order_by("name"))
        )
        .get(pk=conversation_id)
    )
    conversation.workspace = workspace  # already loaded: services scope their writes by it
    return conversation


def _thread_messages(conversation: Conversation) -> QuerySet[Message]:
    return (
        Message.objects.for_workspace(conversation.workspace)
        .filter(conversation=conversation)
        .select_related("sent_by")
    )


def message_page(
    *, conversation: Conversation, before: Cursor | None = None, limit: int = THREAD_PAGE_SIZE
) -> Page:
    """The latest messages (or those before `before`), oldest first for display.

    `next_cursor` points to the older page, None when this page reaches the beginning.
    Ordered by the provider's timestamp: what the customer saw, even when webhooks arrive late.
    """
    messages = _thread_messages(conversation)
    if before is not None:
        messages = messages.filter(
            Q(provider_timestamp__lte=before.at)
            & (Q(provider_timestamp__lt=before.at) | Q(id__lt=before.pk))
        )
    rows = list(messages.order_by("-provider_timestamp", "-id")[: limit + 1])
    older = None
    if len(rows) > limit:
        rows = rows[:limit]
        older = Cursor(at=rows[-1].provider_timestamp, pk=rows[-1].pk)
    rows.reverse()
    return Page(items=rows, next_cursor=older)


def message_get(*, conversation: Conversation, message_id: int) -> Message:
    """Raises Message.DoesNotExist when the id is not a message of this conversation."""
    return (
        _thread_messages(conversation)
        .select_related("channel", "workspace")
        .defer(*_CHANNEL_SECRETS)
        .get(pk=message_id)
    )


# --- Live updates -------------------------------------------------------------------------


def message_state(message: Message) -> str:
    """A short token that changes whenever the message would render differently."""
    raw = "|".join((message.status, message.media_state, message.error_code, message.error_reason))
    return hashlib.blake2s(raw.encode(), digest_size=3).hexdigest()


_SETTLED_STATUSES = {MessageStatus.READ, MessageStatus.PLAYED, MessageStatus.RECEIVED}


def _may_change(message: Message) -> bool:
    if message.media_state in (MediaState.PENDING, MediaState.FAILED):
        return True
    if message.is_private_note or message.direction != Direction.OUTBOUND:
        return False
    return message.status not in _SETTLED_STATUSES


@dataclass
class PollState:
    """What the open thread has shown: every message up to `after`, plus those in `known`.

    `known` maps a message id to its `message_state`: messages above `after` (not yet settled,
    see SETTLE) and the recent ones whose ticks or media may still change.
    """

    after: int = 0
    known: dict[int, str] = field(default_factory=dict)

    def encode_known(self) -> str:
        return ",".join(f"{pk}:{state}" for pk, state in sorted(self.known.items()))

    @classmethod
    def decode(cls, *, after: str, known: str) -> PollState:
        try:
            after_id = int(after or 0)
            pairs = [item.split(":") for item in known.split(",") if item] if known else []
            if after_id < 0 or len(pairs) > POLL_MAX_NEW + WATCH_MAX:
                raise ValueError
            parsed = {int(pk): state[:8] for pk, state in pairs}
        except ValueError:
            raise InvalidCursorError(after) from None
        return cls(after=after_id, known=parsed)


def poll_state(*, shown: Iterable[Message], after: int, now: datetime | None = None) -> PollState:
    """The next poll's state after showing `shown` (all messages above `after`, and more).

    `after` moves up to the highest id that is SETTLE old: any lower id was handed out before
    it, so its transaction is over and the message (if any) is already shown. Younger ids stay
    in `known` so the poll neither repeats them nor misses a lower one committing late.
    """
    cutoff = (now or timezone.now()) - SETTLE
    shown = sorted(shown, key=lambda m: m.pk)
    settled = [m.pk for m in shown if m.created_at < cutoff]
    after = max([after, *settled])
    watch = [m for m in shown if m.pk <= after and _may_change(m)][-WATCH_MAX:]
    fresh = [m for m in shown if m.pk > after]
    return PollState(after=after, known={m.pk: message_state(m) for m in [*watch, *fresh]})


def poll_state_for_thread(
    *, conversation: Conversation, page: list[Message], now: datetime | None = None
) -> PollState:
    """The poll state of a thread page just rendered.

    `after` starts at the conversation's highest settled id, not at the page's: messages stored
    late with an old timestamp (an import, a delayed webhook) belong to older pages, and must not
    be handed to the poll as new. Two small queries: a backward index scan that stops at the
    first settled row, and the few messages stored in the last SETTLE seconds.
    """
    now = now or timezone.now()
    settled_max = (
        _thread_messages(conversation)
        .filter(created_at__lt=now - SETTLE)
        .order_by("-id")
        .values_list("pk", flat=True)
        .first()
    ) or 0
    fresh = list(
        _thread_messages(conversation).filter(id__gt=settled_max).order_by("id")[:POLL_MAX_NEW]
    )
    shown = {m.pk: m for m in [*page, *fresh]}
    return poll_state(shown=shown.values(), after=settled_max, now=now)


@dataclass
class ThreadChanges:
    new: list[Message]
    changed: list[Message]
    state: PollState


def thread_changes(
    *, conversation: Conversation, state: PollState, now: datetime | None = None
) -> ThreadChanges:
    """New messages and messages whose state changed since the poll that produced `state`.

    One query: everything above `after` plus the known ids (an index range and a key lookup).
    """
    # Cut by id, so a poll that hits the limit never moves `after` past a message it dropped.
    rows = list(
        _thread_messages(conversation)
        .filter(Q(id__gt=state.after) | Q(id__in=list(state.known)))
        .order_by("id")[: POLL_MAX_NEW + len(state.known)]
    )
    new = sorted(
        (m for m in rows if m.pk not in state.known),
        key=lambda m: (m.provider_timestamp, m.pk),
    )
    changed = [m for m in rows if m.pk in state.known and state.known[m.pk] != message_state(m)]
    return ThreadChanges(
        new=new, changed=changed, state=poll_state(shown=rows, after=state.after, now=now)
    )


# --- Choices for the forms ----------------------------------------------------------------


def member_user_list(*, workspace: Workspace) -> QuerySet:
    """The users who may be assigned a conversation: this workspace's members, nobody else."""
    return (
        get_user_model()
        .objects.filter(
            pk__in=Membership.objects.for_workspace(workspace).values("user_id"),
            is_active=True,
        )
        .order_by("first_name", "last_name", "email")
    )


def label_list(*, workspace: Workspace) -> QuerySet[Label]:
    return Label.objects.for_workspace(workspace).order_by("name")


def channel_list(*, workspace: Workspace) -> QuerySet[Channel]:
    secrets = [name.removeprefix("channel__") for name in _CHANNEL_SECRETS]
    return (
        Channel.objects.for_workspace(workspace).defer(*secrets).order_by("name", "display_number")
    )


def message_template_list(*, conversation: Conversation) -> list[MessageTemplate]:
    """The enabled templates an agent may send in this conversation: the workspace's, for its
    channel or for every channel."""
    return list(
        MessageTemplate.objects.for_workspace(conversation.workspace)
        .filter(Q(channel__isnull=True) | Q(channel_id=conversation.channel_id), is_enabled=True)
        .order_by("name", "language")
    )
