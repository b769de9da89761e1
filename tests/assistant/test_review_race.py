"""Two reviewers acting on one draft at the same instant, and two workers sending one holding
message: the conditional UPDATE that claims the draft lets exactly one through, and the other
is told who got there first. (Each thread needs its own database connection: PostgreSQL only;
the sequential cases run on every engine in test_review_queue.py and test_holding.py.)"""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

import chatdesk.messaging.outbound as outbound_module
from chatdesk.assistant.holding import assistant_draft_holding_send
from chatdesk.assistant.models import AssistantDraft, DraftStatus
from chatdesk.assistant.respond import (
    ReviewError,
    assistant_draft_approve,
    assistant_draft_edit_and_send,
)
from tests.assistant.review_helpers import draft_make, outbound
from tests.tenancy.factories import world_make

ON_SQLITE = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")

pytestmark = [
    pytest.mark.skipif(ON_SQLITE, reason="needs one database connection per thread (PostgreSQL)"),
    pytest.mark.django_db(transaction=True),
]


def run_together(monkeypatch, *actions) -> list[str]:
    """Run each action in its own thread. The first to claim the draft then waits (inside its
    transaction, at the send) for the other to catch up: without the claim both would send."""
    barrier = threading.Barrier(len(actions))
    real_send = outbound_module.message_send_text

    def send_after_meeting(**kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)
        return real_send(**kwargs)

    monkeypatch.setattr(outbound_module, "message_send_text", send_after_meeting)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run(action):
        try:
            outcomes.append(action())
        except ReviewError as error:
            outcomes.append(f"refused: {error}")
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    if errors:
        raise errors[0]
    return outcomes


def test_two_reviewers_approving_at_once_send_one_reply(monkeypatch):
    world = world_make("race-rv")
    world.admin.first_name = "Ada"
    world.admin.save()
    draft = draft_make(world.workspace)

    outcomes = run_together(
        monkeypatch,
        lambda: assistant_draft_approve(draft=draft, reviewer=world.agent).status,
        lambda: (
            assistant_draft_edit_and_send(draft=draft, reviewer=world.admin, text="Mine").status
        ),
    )

    refused = [o for o in outcomes if o.startswith("refused")]
    assert len(refused) == 1 and "Already reviewed by" in refused[0]
    assert len(outbound(draft.conversation)) == 1
    draft = AssistantDraft.objects.for_workspace(world.workspace).get(pk=draft.pk)
    assert draft.status in (DraftStatus.SENT, DraftStatus.EDITED_SENT)
    assert [m.text for m in outbound(draft.conversation)] == [draft.sent_text]


def test_two_workers_sending_the_holding_message_at_once_send_it_once(monkeypatch):
    world = world_make("race-hold")
    draft = draft_make(world.workspace, minutes_ago=10)
    now = timezone.now()

    outcomes = run_together(
        monkeypatch,
        lambda: str(assistant_draft_holding_send(draft=draft, now=now)),
        lambda: str(assistant_draft_holding_send(draft=draft, now=now)),
    )

    assert sorted(outcomes) == ["False", "True"]
    [holding] = outbound(draft.conversation)
    draft = AssistantDraft.objects.for_workspace(world.workspace).get(pk=draft.pk)
    assert draft.holding_message == holding and draft.status == DraftStatus.PENDING_REVIEW
