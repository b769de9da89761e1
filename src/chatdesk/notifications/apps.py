from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "chatdesk.notifications"
    verbose_name = "Notifications"
