"""Writes behind Settings > Templates: the workspace's approved WhatsApp message templates.

Every change is audited in the same transaction (`audit_record`). A template is only a record of
what Meta approved: chatdesk cannot create or approve one at Meta, so the page asks for the name,
language and body exactly as approved there.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from chatdesk.audit.models import AuditAction
from chatdesk.audit.services import AuditActor, audit_record
from chatdesk.messaging.models import MessageTemplate
from chatdesk.tenancy.models import Workspace

EDITABLE_FIELDS = ("name", "language", "category", "channel", "body")


class TemplateRuleError(Exception):
    """A change the rules refuse; the message is shown to the admin who asked."""


def _duplicate(template: MessageTemplate) -> TemplateRuleError:
    return TemplateRuleError(
        f"This workspace already has a template named {template.name} in {template.language}. "
        "Edit that one, or check the name and language."
    )


def _save(template: MessageTemplate) -> None:
    try:
        with transaction.atomic():  # a savepoint: a duplicate leaves the outer transaction usable
            template.save()
    except IntegrityError:
        raise _duplicate(template) from None


def _summary(template: MessageTemplate) -> dict:
    return {
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "channel": template.channel_id,
    }


@transaction.atomic
def message_template_create(
    *, workspace: Workspace, values: dict, actor: AuditActor
) -> MessageTemplate:
    template = MessageTemplate(workspace=workspace, **{k: values[k] for k in EDITABLE_FIELDS})
    _save(template)
    audit_record(
        workspace=workspace,
        action=AuditAction.TEMPLATE_CREATED,
        actor=actor,
        target=template,
        details=_summary(template),
    )
    return template


@transaction.atomic
def message_template_update(
    *, template: MessageTemplate, values: dict, actor: AuditActor
) -> list[str]:
    """Apply `values`; returns the names of the fields that changed (none: nothing saved)."""
    before = {name: getattr(template, name) for name in EDITABLE_FIELDS}
    changed = [name for name in EDITABLE_FIELDS if values[name] != before[name]]
    if not changed:
        return []
    for name in changed:
        setattr(template, name, values[name])
    _save(template)
    audit_record(
        workspace=template.workspace,
        action=AuditAction.TEMPLATE_UPDATED,
        actor=actor,
        target=template,
        details={"fields": changed, **_summary(template)},
    )
    return changed


@transaction.atomic
def message_template_enabled_set(
    *, template: MessageTemplate, enabled: bool, actor: AuditActor
) -> MessageTemplate:
    if template.is_enabled == enabled:
        return template
    template.is_enabled = enabled
    template.save(update_fields=["is_enabled", "updated_at"])
    audit_record(
        workspace=template.workspace,
        action=AuditAction.TEMPLATE_ENABLED if enabled else AuditAction.TEMPLATE_DISABLED,
        actor=actor,
        target=template,
    )
    return template


@transaction.atomic
def message_template_delete(*, template: MessageTemplate, actor: AuditActor) -> None:
    """Messages already sent with it keep their text and what was sent (their own payload)."""
    audit_record(
        workspace=template.workspace,
        action=AuditAction.TEMPLATE_DELETED,
        actor=actor,
        target=template,
        details=_summary(template),
    )
    template.delete()
