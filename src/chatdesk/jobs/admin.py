from django.contrib import admin, messages

from chatdesk.jobs.models import JobFailure, PeriodicSchedule, WorkerHeartbeat
from chatdesk.jobs.services import job_failure_retry


@admin.register(JobFailure)
class JobFailureAdmin(admin.ModelAdmin):
    list_display = ["failed_at", "task_path", "queue_name", "attempts", "reason", "retried_at"]
    list_filter = ["queue_name", "task_path", ("retried_at", admin.EmptyFieldListFilter)]
    search_fields = ["task_path", "reason", "task_id"]
    readonly_fields = [field.name for field in JobFailure._meta.fields]
    actions = ["retry"]

    @admin.action(description="Retry the selected jobs from attempt 1")
    def retry(self, request, queryset):
        retried = 0
        for failure in queryset.filter(retried_at__isnull=True):
            job_failure_retry(failure=failure)
            retried += 1
        self.message_user(request, f"{retried} job(s) enqueued again.", messages.SUCCESS)

    def has_add_permission(self, request):
        return False


@admin.register(PeriodicSchedule)
class PeriodicScheduleAdmin(admin.ModelAdmin):
    list_display = ["name", "next_run_at", "last_enqueued_at", "last_task_id"]
    readonly_fields = ["name", "last_enqueued_at", "last_task_id"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["worker_id", "hostname", "pid", "queues", "started_at", "last_seen_at"]
    readonly_fields = [field.name for field in WorkerHeartbeat._meta.fields]

    def has_add_permission(self, request):
        return False
