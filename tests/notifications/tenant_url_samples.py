"""Sample URL arguments for the cross-workspace walk (tests/tenancy/tenant_urls.py)."""


def _notification_id(world) -> dict:
    from chatdesk.notifications.models import Notification, NotificationKind
    from tests.inbox.factories import conversation_make

    conversation = conversation_make(world.workspace)
    notification = Notification.objects.for_workspace(world.workspace).create(
        workspace=world.workspace,
        user=world.agent,
        kind=NotificationKind.ASSIGNED,
        conversation=conversation,
        text="Sample",
    )
    return {"notification_id": notification.pk}


SAMPLE_KWARGS = {
    "notifications:index": lambda world: {},
    "notifications:read-all": lambda world: {},
    "notifications:read": _notification_id,
}
