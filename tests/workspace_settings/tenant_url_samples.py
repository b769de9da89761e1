"""Sample URL arguments for the cross-workspace walk (tests/tenancy/tenant_urls.py)."""

from chatdesk.messaging.models import Channel, MessageTemplate
from chatdesk.tenancy.models import Membership
from tests.factories import make_channel


def _channel_id(world) -> dict:
    channel = Channel.objects.for_workspace(world.workspace).order_by("pk").first()
    return {"channel_id": (channel or make_channel(world.workspace)).pk}


def _agent_membership_id(world) -> dict:
    membership = Membership.objects.for_workspace(world.workspace).get(user=world.agent)
    return {"membership_id": membership.pk}


def _template_id(world) -> dict:
    template, _created = MessageTemplate.objects.for_workspace(world.workspace).get_or_create(
        workspace=world.workspace,
        name="sample_greeting",
        language="id",
        defaults={"category": "utility", "body": "Halo {{1}}"},
    )
    return {"template_id": template.pk}


SAMPLE_KWARGS = {
    "workspace_settings:index": lambda world: {},
    "workspace_settings:team": lambda world: {},
    "workspace_settings:team-invite": lambda world: {},
    "workspace_settings:team-invitation-revoke": lambda world: {
        "invitation_id": world.invitation.pk
    },
    "workspace_settings:member-role": _agent_membership_id,
    "workspace_settings:member-remove": _agent_membership_id,
    "workspace_settings:integrations": lambda world: {},
    "workspace_settings:channel-active": _channel_id,
    "workspace_settings:channel-credentials": _channel_id,
    "workspace_settings:channel-rotation-finish": _channel_id,
    "workspace_settings:channel-verify-token": _channel_id,
    "workspace_settings:channel-test-event": _channel_id,
    "workspace_settings:templates": lambda world: {},
    "workspace_settings:template-add": lambda world: {},
    "workspace_settings:template-edit": _template_id,
    "workspace_settings:template-enabled": _template_id,
    "workspace_settings:template-delete": _template_id,
}
