from django.apps import AppConfig


class AssistantAppConfig(AppConfig):
    name = "chatdesk.assistant"
    verbose_name = "Assistant"
