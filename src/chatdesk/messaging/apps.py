from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "chatdesk.messaging"
    verbose_name = "Messaging"
