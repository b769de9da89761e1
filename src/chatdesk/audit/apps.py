from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "chatdesk.audit"
    verbose_name = "Audit log"
