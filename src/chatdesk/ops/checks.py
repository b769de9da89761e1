"""System checks about data that must not exist in production."""

from django.conf import settings
from django.core import checks
from django.db import DatabaseError


@checks.register(checks.Tags.database, deploy=True)
def check_no_demo_data_in_production(app_configs=None, databases=None, **kwargs):
    if settings.APP_ENV != "production" or not databases:
        return []
    from chatdesk.tenancy.models import Workspace

    try:
        demo = list(Workspace.objects.filter(is_demo=True).values_list("slug", flat=True)[:5])
    except DatabaseError:
        return []  # not migrated or unreachable: preflight reports that on its own line
    if not demo:
        return []
    return [
        checks.Error(
            f"demo workspace(s) present in production: {', '.join(demo)}",
            hint="Demo data is development-only. Delete these workspaces in the admin "
            "(or restore a clean database) before going live.",
            id="chatdesk.E010",
        )
    ]
