"""Notification emails: a job per notification, so a slow or failing mail provider never holds
up the pipeline that raised it."""

from __future__ import annotations

from datetime import timedelta

from chatdesk.jobs.retry import job


@job(queue="default", max_attempts=4, backoff_base=4, stale_after=timedelta(minutes=2))
def notification_email_send(*, notification_id: int) -> str:
    from chatdesk.notifications.services import notification_email_deliver

    return notification_email_deliver(notification_id=notification_id)
