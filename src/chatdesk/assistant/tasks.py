"""The assistant's background jobs: answering (on the `inbound` queue, after the message is
processed) and the holding message for drafts that wait too long for review (periodic)."""

from __future__ import annotations

from datetime import timedelta

from chatdesk.jobs.periodic import periodic
from chatdesk.jobs.retry import job


# Few attempts: a decision that keeps crashing leaves the message to a human (JobFailure list)
# rather than answering minutes late. LLM errors do not crash it: they escalate.
@job(queue="inbound", max_attempts=3, stale_after=timedelta(minutes=3))
def assistant_respond(*, message_id: int) -> str:
    from chatdesk.assistant.respond import assistant_respond_to

    draft = assistant_respond_to(message_id=message_id)
    return draft.status if draft is not None else "skipped"


# Every minute (the shortest review timeout); a run finds nothing due most of the time, through
# a partial index of waiting drafts. Not retried: the next minute's run is the retry.
@periodic(every=timedelta(minutes=1), queue="default", priority=40, max_attempts=1)
def assistant_send_holding_messages() -> int:
    from chatdesk.assistant.holding import assistant_holding_send_due

    return assistant_holding_send_due()
