from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "chatdesk.common"
    verbose_name = "Common"
