from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "chatdesk.inbox"
    verbose_name = "Inbox"
