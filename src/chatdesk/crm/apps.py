from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "chatdesk.crm"
    verbose_name = "CRM"
