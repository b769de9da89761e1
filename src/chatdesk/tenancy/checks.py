"""System checks for tenancy (registered in TenancyConfig.ready)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from chatdesk.tenancy.selectors import workspace_has_accepted_owner

CREATE_WORKSPACE_HINT = (
    "Run `chatdesk create-workspace --name NAME --slug SLUG --owner-email EMAIL`, then have "
    "the owner accept the emailed invitation."
)


# A deployment check (`chatdesk check --deploy`), deliberately not tagged `database`: Django
# skips database-tagged checks unless `--database` is passed, and an operator following the
# runbook must see this one.
@checks.register("chatdesk", deploy=True)
def check_first_workspace_has_owner(app_configs=None, **kwargs):
    if settings.APP_ENV != "production":
        return []
    try:
        has_owner = workspace_has_accepted_owner()
    except DatabaseError:
        return []  # not migrated or unreachable: the readiness checks report that on their own
    if has_owner:
        return []
    return [
        checks.Warning(
            "No workspace has an accepted owner: nobody can sign in to this instance yet.",
            hint=CREATE_WORKSPACE_HINT,
            id="chatdesk.W001",
        )
    ]
