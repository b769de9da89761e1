"""Sample URL arguments for the cross-workspace walk (tests/tenancy/tenant_urls.py)."""

from chatdesk.assistant.models import KnowledgeEntry


def _entry_id(world) -> dict:
    entry = KnowledgeEntry.objects.for_workspace(world.workspace).order_by("pk").first()
    if entry is None:
        entry = KnowledgeEntry.objects.for_workspace(world.workspace).create(
            workspace=world.workspace,
            key="office-hours",
            topic="contact",
            answer="We are open 09:00-17:00.",
            questions=["When are you open?"],
        )
    return {"entry_id": entry.pk}


def _draft_id(world) -> dict:
    from tests.assistant.review_helpers import draft_make

    return {"draft_id": draft_make(world.workspace).pk}


def _conversation_id(world) -> dict:
    from tests.inbox.factories import conversation_make

    return {"conversation_id": conversation_make(world.workspace).pk}


def _assistant_message_id(world) -> dict:
    from tests.assistant.review_helpers import assistant_message, draft_make

    draft = draft_make(world.workspace, status="sent")
    message = assistant_message(draft.conversation)
    type(draft).objects.for_workspace(world.workspace).filter(pk=draft.pk).update(
        outbound_message=message
    )
    return {"message_id": message.pk}


SAMPLE_KWARGS = {
    # Review queue, drafts and the thread's assistant panel (agents and up).
    "assistant:review": lambda world: {},
    "assistant:draft": _draft_id,
    "assistant:draft-approve": _draft_id,
    "assistant:draft-edit": _draft_id,
    "assistant:draft-reject": _draft_id,
    "assistant:draft-complaint": _draft_id,
    "assistant:thread-panel": _conversation_id,
    "assistant:message-draft": _assistant_message_id,
    # Settings, knowledge and sandbox (admins and owners).
    "assistant:settings": lambda world: {},
    "assistant:settings-kill-switch": lambda world: {},
    "assistant:knowledge": lambda world: {},
    "assistant:knowledge-create": lambda world: {},
    "assistant:knowledge-edit": _entry_id,
    "assistant:knowledge-enabled": _entry_id,
    "assistant:knowledge-delete": _entry_id,
    "assistant:knowledge-export": lambda world: {},
    "assistant:knowledge-import": lambda world: {},
    "assistant:sandbox": lambda world: {},
}
