from django.apps import AppConfig


class ConfigAppConfig(AppConfig):
    name = "chatdesk.config"
    label = "chatdesk_config"
    verbose_name = "chatdesk configuration"

    def ready(self) -> None:
        from chatdesk.config import checks  # noqa: F401  registers the system checks
