"""Writes on notifications (`<entity>_<action>`, keyword-only).

Who hears about what:
- escalated: the conversation's assignee; when nobody has it, the workspace's admins and owners
  (they dispatch work). Also emailed (job after commit, verified addresses only).
- review_waiting: one notification per draft, to the assignee, else the admins and owners.
- assigned: the new assignee, unless they assigned it to themselves.
Whoever caused the event is never notified about it.

Notifications must never stop the work that raises them (a customer's reply, an escalation):
creation runs in a savepoint and a failure is logged, and emails are enqueued after commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from chatdesk.notifications.models import Notification, NotificationKind
from chatdesk.tenancy.models import Membership, Role

logger = logging.getLogger(__name__)

TEXT_MAX = 300


def _dispatchers(workspace) -> list:
    """Admins and owners: who gets work nobody has been assigned yet."""
    memberships = (
        Membership.objects.for_workspace(workspace)
        .filter(role__in=[Role.ADMIN, Role.OWNER], user__is_active=True)
        .select_related("user")
        .order_by("user_id")
    )
    return [m.user for m in memberships]


def _recipients(conversation, *, exclude=None) -> list:
    users = (
        [conversation.assignee]
        if conversation.assignee_id
        else _dispatchers(conversation.workspace)
    )
    return [u for u in users if exclude is None or u.pk != getattr(exclude, "pk", None)]


def notifications_create(
    *, conversation, users: Iterable, kind: str, text: str, email: bool = False
) -> list[Notification]:
    """One notification per distinct user; never raises (logged instead)."""
    unique = {user.pk: user for user in users if user is not None}
    if not unique:
        return []
    workspace = conversation.workspace
    try:
        with transaction.atomic():
            created = Notification.objects.for_workspace(workspace).bulk_create(
                [
                    Notification(
                        workspace=workspace,
                        user=user,
                        kind=kind,
                        conversation=conversation,
                        text=text[:TEXT_MAX],
                    )
                    for user in unique.values()
                ]
            )
    except DatabaseError:
        logger.exception(
            "could not record notifications", extra={"conversation_id": conversation.pk}
        )
        return []
    if email:
        ids = [n.pk for n in created if n.pk is not None]
        if not ids:  # backends that do not return ids from bulk_create
            ids = list(
                Notification.objects.for_workspace(workspace)
                .filter(conversation=conversation, kind=kind, emailed_at__isnull=True)
                .values_list("pk", flat=True)
            )
        _email_after_commit(ids)
    return created


def _email_after_commit(notification_ids: list[int]) -> None:
    from chatdesk.notifications.tasks import notification_email_send

    def enqueue():
        for notification_id in notification_ids:
            try:
                notification_email_send.enqueue(notification_id=notification_id)
            except Exception:  # an email is a courtesy: the notification itself is stored
                logger.exception(
                    "could not enqueue a notification email",
                    extra={"notification_id": notification_id},
                )

    transaction.on_commit(enqueue, robust=True)


def notifications_escalated(*, conversation, reason: str = "", by=None) -> list[Notification]:
    contact = conversation.contact
    text = f"{contact} needs a human" + (f": {reason}" if reason else ".")
    return notifications_create(
        conversation=conversation,
        users=_recipients(conversation, exclude=by),
        kind=NotificationKind.ESCALATED,
        text=text,
        email=True,
    )


def notifications_review_waiting(*, conversation) -> list[Notification]:
    return notifications_create(
        conversation=conversation,
        users=_recipients(conversation),
        kind=NotificationKind.REVIEW_WAITING,
        text=f"An assistant reply to {conversation.contact} is waiting for review.",
    )


def notification_assigned(*, conversation, assignee, by) -> list[Notification]:
    if assignee is None or (by is not None and assignee.pk == by.pk):
        return []
    who = (by.get_full_name() or by.email) if by is not None else "Someone"
    return notifications_create(
        conversation=conversation,
        users=[assignee],
        kind=NotificationKind.ASSIGNED,
        text=f"{who} assigned you the conversation with {conversation.contact}.",
    )


def notification_mark_read(*, notification: Notification) -> None:
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.for_workspace(notification.workspace).filter(
            pk=notification.pk, read_at__isnull=True
        ).update(read_at=notification.read_at)


def notifications_mark_all_read(*, workspace, user) -> int:
    return (
        Notification.objects.for_workspace(workspace)
        .filter(user=user, read_at__isnull=True)
        .update(read_at=timezone.now())
    )


def _email_verified(user) -> bool:
    from allauth.account.models import EmailAddress

    return (
        bool(user.email)
        and EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()
    )


def notification_email_deliver(*, notification_id: int) -> str:
    """The email job's body: "sent", or why not. Sent, then marked: a crash in between sends a
    second copy rather than none."""
    # The job carries only an id; the row it loads names its own workspace.
    notification = (
        Notification.dangerously_unscoped_objects.select_related(
            "user", "workspace", "conversation__contact"
        )
        .filter(pk=notification_id)
        .first()
    )
    if notification is None:
        return "gone"
    if notification.emailed_at is not None:
        return "already sent"
    user = notification.user
    if not user.is_active or not _email_verified(user):
        return "unverified"
    path = reverse(
        "inbox:thread",
        kwargs={
            "workspace_slug": notification.workspace.slug,
            "conversation_id": notification.conversation_id,
        },
    )
    link = f"{settings.APP_BASE_URL.rstrip('/')}{path}"
    send_mail(
        f"[chatdesk] {notification.workspace.name}: {notification.text}"[:150],
        f"{notification.text}\n\nOpen the conversation: {link}\n",
        settings.DEFAULT_FROM_EMAIL,
        [user.email],
    )
    Notification.objects.for_workspace(notification.workspace).filter(pk=notification.pk).update(
        emailed_at=timezone.now()
    )
    return "sent"
