from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "chatdesk.tenancy"
    verbose_name = "Workspaces"

    def ready(self) -> None:
        from chatdesk.tenancy import checks  # noqa: F401  registers the system checks
