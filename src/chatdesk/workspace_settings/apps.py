from django.apps import AppConfig


class WorkspaceSettingsConfig(AppConfig):
    name = "chatdesk.workspace_settings"
    verbose_name = "Workspace settings"
