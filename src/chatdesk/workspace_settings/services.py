"""Writes behind Settings > Team and Settings > Integrations (`<entity>_<action>`, keyword-only).

Every change is audited in its own transaction (`chatdesk.audit.services.audit_record`). Rules:
- someone may change or remove a member only up to their own rank, so anything that involves
  the owner role (an owner's role, making someone owner, removing an owner) is for owners only;
- a workspace always keeps at least one owner: the last owner can be neither demoted nor
  removed, not even by themselves (the owner rows are locked while this is checked, so two
  owners demoting each other at the same moment cannot both succeed);
- credentials are write-only: a blank field keeps the stored value; a new signing secret moves
  the current one to `previous_signing_secret`, so deliveries the provider still signs with it
  keep verifying until an admin finishes the rotation.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction

from chatdesk.audit.models import AuditAction
from chatdesk.audit.services import AuditActor, audit_record
from chatdesk.crm.models import Contact, Conversation
from chatdesk.messaging.models import Channel, ChannelKind
from chatdesk.tenancy.models import ROLE_RANK, Membership, Role, Workspace


class TeamRuleError(Exception):
    """A team change the rules refuse; the message is shown to the person who asked."""


# --- team -------------------------------------------------------------------------------------


def _rank(role: str) -> int:
    return ROLE_RANK[Role(role)]


def _check_may_manage(*, by: Membership, member: Membership, new_role: str | None = None) -> None:
    if _rank(member.role) > _rank(by.role) or (new_role and _rank(new_role) > _rank(by.role)):
        raise PermissionDenied("Only an owner can change anything that involves the owner role.")


def _owners_locked(workspace: Workspace) -> list[Membership]:
    return list(
        Membership.objects.for_workspace(workspace)
        .select_for_update()
        .filter(role=Role.OWNER)
        .order_by("pk")
    )


def _member_locked(*, workspace: Workspace, membership_id: int) -> Membership:
    return (
        Membership.objects.for_workspace(workspace)
        .select_for_update()
        .select_related("user")
        .get(pk=membership_id)
    )


@transaction.atomic
def membership_role_change(
    *, membership: Membership, role: str, by: Membership, actor: AuditActor
) -> Membership:
    """Give `membership` the role `role`, as `by` (the acting member). No-op if unchanged."""
    workspace = membership.workspace
    Role(role)  # ValueError for anything but owner/admin/agent
    owners = _owners_locked(workspace)  # first, always in the same order: no deadlock
    member = _member_locked(workspace=workspace, membership_id=membership.pk)
    by = Membership.objects.for_workspace(workspace).get(pk=by.pk)
    _check_may_manage(by=by, member=member, new_role=role)
    if member.role == role:
        return member
    if member.role == Role.OWNER and all(o.pk == member.pk for o in owners):
        raise TeamRuleError(
            f"{member.user.email} is the only owner of this workspace and cannot be demoted. "
            "Make another member owner first."
        )
    previous = member.role
    member.role = role
    member.save(update_fields=["role"])
    audit_record(
        workspace=workspace,
        action=AuditAction.MEMBER_ROLE_CHANGED,
        actor=actor,
        target=member,
        target_label=member.user.email,
        details={"from": previous, "to": role},
    )
    return member


@dataclass(frozen=True)
class RemovalResult:
    email: str
    conversations_unassigned: int
    contacts_released: int


@transaction.atomic
def membership_remove(
    *, membership: Membership, by: Membership, actor: AuditActor
) -> RemovalResult:
    """Remove a member (or let `by` leave). Their conversations and contacts in this workspace
    lose them as assignee/owner, so nothing stays assigned to someone who can no longer see it."""
    workspace = membership.workspace
    owners = _owners_locked(workspace)
    member = _member_locked(workspace=workspace, membership_id=membership.pk)
    by = Membership.objects.for_workspace(workspace).get(pk=by.pk)
    _check_may_manage(by=by, member=member)
    if member.role == Role.OWNER and all(o.pk == member.pk for o in owners):
        leaving = member.pk == by.pk
        raise TeamRuleError(
            ("You are" if leaving else f"{member.user.email} is")
            + " the only owner of this workspace and cannot "
            + ("leave" if leaving else "be removed")
            + ". Make another member owner first."
        )
    user = member.user
    unassigned = (
        Conversation.objects.for_workspace(workspace).filter(assignee=user).update(assignee=None)
    )
    released = Contact.objects.for_workspace(workspace).filter(owner=user).update(owner=None)
    audit_record(
        workspace=workspace,
        action=AuditAction.MEMBER_REMOVED,
        actor=actor,
        target=member,
        target_label=user.email,
        details={
            "role": member.role,
            "left": member.pk == by.pk,
            "conversations_unassigned": unassigned,
            "contacts_released": released,
        },
    )
    member.delete()
    return RemovalResult(
        email=user.email, conversations_unassigned=unassigned, contacts_released=released
    )


# --- integrations -----------------------------------------------------------------------------

# The credentials each kind of channel uses, with the names admins know them by.
CREDENTIAL_FIELDS: dict[str, dict[str, str]] = {
    ChannelKind.META: {
        "signing_secret": "App secret",
        "api_token": "Access token",
        "verify_token": "Verify token",
    },
    ChannelKind.KAPSO: {
        "signing_secret": "Webhook secret",
        "api_token": "API key",
    },
}


def credential_label_in_sentence(label: str) -> str:
    """ "App secret" -> "app secret", but "API key" stays "API key"."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def _channel_locked(channel: Channel) -> Channel:
    return Channel.objects.for_workspace(channel.workspace).select_for_update().get(pk=channel.pk)


@transaction.atomic
def channel_active_set(*, channel: Channel, active: bool, actor: AuditActor) -> Channel:
    """Switch a channel on or off (an inactive channel's webhooks answer 404 and nothing is sent
    through it). Setting the state it already has changes and records nothing."""
    channel = _channel_locked(channel)
    if channel.is_active == active:
        return channel
    channel.is_active = active
    channel.save(update_fields=["is_active"])
    audit_record(
        workspace=channel.workspace,
        action=AuditAction.CHANNEL_ACTIVATED if active else AuditAction.CHANNEL_DEACTIVATED,
        actor=actor,
        target=channel,
    )
    return channel


@transaction.atomic
def channel_credentials_update(
    *, channel: Channel, values: dict[str, str], actor: AuditActor
) -> list[str]:
    """Store the non-blank `values` (field name -> new secret); return the fields that changed.

    Only the names of changed fields are audited. A new signing secret starts a rotation: the
    current one becomes `previous_signing_secret` (replacing any earlier previous one, so at
    most two secrets verify at any time).
    """
    allowed = CREDENTIAL_FIELDS[channel.kind]
    unknown = set(values) - set(allowed)
    if unknown:
        raise ValueError(f"not a credential of a {channel.kind} channel: {sorted(unknown)}")
    channel = _channel_locked(channel)
    changed = [
        name for name in allowed if values.get(name) and values[name] != getattr(channel, name)
    ]
    if not changed:
        return []
    rotation_started = "signing_secret" in changed
    if rotation_started:
        channel.previous_signing_secret = channel.signing_secret
    for name in changed:
        setattr(channel, name, values[name])
    update_fields = [*changed, *(["previous_signing_secret"] if rotation_started else [])]
    channel.save(update_fields=update_fields)
    audit_record(
        workspace=channel.workspace,
        action=AuditAction.CHANNEL_CREDENTIALS_UPDATED,
        actor=actor,
        target=channel,
        details={"fields": changed, "rotation_started": rotation_started},
    )
    return changed


@transaction.atomic
def channel_rotation_finish(*, channel: Channel, actor: AuditActor) -> bool:
    """Stop accepting the previous signing secret. False when no rotation was in progress."""
    channel = _channel_locked(channel)
    if not channel.previous_signing_secret:
        return False
    channel.previous_signing_secret = None
    channel.save(update_fields=["previous_signing_secret"])
    audit_record(
        workspace=channel.workspace,
        action=AuditAction.CHANNEL_ROTATION_FINISHED,
        actor=actor,
        target=channel,
    )
    return True


@transaction.atomic
def channel_verify_token_reveal(*, channel: Channel, actor: AuditActor) -> str:
    """The verify token, for pasting into Meta's console. Every reveal is audited."""
    audit_record(
        workspace=channel.workspace,
        action=AuditAction.CHANNEL_VERIFY_TOKEN_REVEALED,
        actor=actor,
        target=channel,
    )
    return channel.verify_token or ""
