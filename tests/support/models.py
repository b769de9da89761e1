"""Models that exist only in the test database, to exercise shared machinery."""

from django.db import models

from chatdesk.common.fields import EncryptedTextField
from chatdesk.tenancy.scoping import WorkspaceScopedModel


# --- tests/common (secrets at rest) ---------------------------------------------------------
class SecretHolder(models.Model):
    """A plain model with encrypted columns (exercises chatdesk.common.fields)."""

    label = models.CharField(max_length=40, blank=True)
    secret = EncryptedTextField()
    optional_secret = EncryptedTextField(null=True, blank=True)

    def __str__(self) -> str:
        return self.label or f"SecretHolder {self.pk}"


class ScopedSecretHolder(WorkspaceScopedModel):
    """A tenant-scoped model with an encrypted column (key rotation is cross-tenant)."""

    # This app has no migrations, so its tables are created before tenancy's: a database-level
    # foreign key to tenancy_workspace would fail on PostgreSQL.
    workspace = models.ForeignKey(
        "tenancy.Workspace", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    secret = EncryptedTextField()


# --- tests/jobs -----------------------------------------------------------------------------
class JobEffect(models.Model):
    """A job's side effect keyed uniquely: applied once however many times the job runs."""

    key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
