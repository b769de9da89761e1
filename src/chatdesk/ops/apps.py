from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "chatdesk.ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from chatdesk.ops import checks  # noqa: F401  registers the system checks
