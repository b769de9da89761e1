"""The tenant scoping base. Every query on tenant data goes through it.

- Models holding a workspace's data inherit `WorkspaceScopedModel`.
- `Model.objects.for_workspace(ws)` is the only way to query them from application code;
  `Model.objects.all()` / `.filter()` / `.get()` raise `UnscopedQueryError`, so forgetting the
  scope fails loudly in tests instead of leaking data in production.
- `Model.dangerously_unscoped_objects` is the escape hatch (admin, data migrations, cross-tenant
  maintenance jobs such as key rotation). It is grep-able on purpose and a test lists its users.
- Related managers (`conversation.messages.all()`) stay usable: they are scoped by their parent,
  which was itself loaded through a scoped query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from chatdesk.tenancy.models import Workspace


class UnscopedQueryError(RuntimeError):
    pass


class WorkspaceScopedManager(models.Manager):
    def for_workspace(self, workspace: Workspace) -> models.QuerySet:
        if workspace is None or getattr(workspace, "pk", None) is None:
            raise UnscopedQueryError(
                f"{self.model.__name__}.objects.for_workspace() needs a saved workspace"
            )
        return super().get_queryset().filter(workspace=workspace)

    def get_queryset(self) -> models.QuerySet:
        if getattr(self, "instance", None) is not None:
            # A related manager (parent.children): scoped through its parent object.
            return super().get_queryset()
        raise UnscopedQueryError(
            f"{self.model.__name__}.objects needs a workspace: use "
            f"{self.model.__name__}.objects.for_workspace(workspace) (or, for cross-tenant "
            "maintenance only, dangerously_unscoped_objects)"
        )


class WorkspaceScopedModel(models.Model):
    workspace = models.ForeignKey(
        "tenancy.Workspace", on_delete=models.CASCADE, related_name="+", db_index=True
    )

    # Declared first, so Django's own machinery (model validation, forms, admin, deletion,
    # serialisation) uses it as the default manager; application code uses `objects`.
    dangerously_unscoped_objects = models.Manager()
    objects = WorkspaceScopedManager()

    class Meta:
        abstract = True
