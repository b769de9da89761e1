"""Background jobs: django.tasks + django-tasks-db, plus retries, periodic jobs and a reaper.

Declare jobs with `from chatdesk.jobs import job` and periodic ones with
`from chatdesk.jobs.periodic import periodic`; run workers with `chatdesk worker`.
"""

from chatdesk.jobs.retry import (
    PermanentJobError,
    RetryJobLater,
    current_job,
    enqueue_on_commit,
    job,
)

__all__ = ["PermanentJobError", "RetryJobLater", "current_job", "enqueue_on_commit", "job"]
