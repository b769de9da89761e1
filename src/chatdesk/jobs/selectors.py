"""Reads of the jobs module, for operators (admin, health checks, alerts)."""

from __future__ import annotations

from django.db.models import QuerySet

from chatdesk.jobs.models import JobFailure


def job_failures_unresolved() -> QuerySet[JobFailure]:
    """Terminal failures nobody has retried yet, newest first."""
    return JobFailure.objects.filter(retried_at__isnull=True).order_by("-failed_at")
