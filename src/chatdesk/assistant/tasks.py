"""The assistant's background job, on the `inbound` queue after the message is processed."""

from __future__ import annotations

from datetime import timedelta

from chatdesk.jobs.retry import job


# Few attempts: a decision that keeps crashing leaves the message to a human (JobFailure list)
# rather than answering minutes late. LLM errors do not crash it: they escalate.
@job(queue="inbound", max_attempts=3, stale_after=timedelta(minutes=3))
def assistant_respond(*, message_id: int) -> str:
    from chatdesk.assistant.respond import assistant_respond_to

    draft = assistant_respond_to(message_id=message_id)
    return draft.status if draft is not None else "skipped"
