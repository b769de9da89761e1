"""Sample arguments for every inbox URL (the cross-workspace walk in tests/tenancy uses them)."""

from chatdesk.crm.models import MediaState
from tests.inbox.factories import conversation_make, message_make


def _conversation(world):
    return {"conversation_id": conversation_make(world.workspace).pk}


def _media(world):
    conversation = conversation_make(world.workspace)
    message = message_make(
        conversation, text="", type="image", media_id="m1", media_state=MediaState.FAILED
    )
    return {"conversation_id": conversation.pk, "message_id": message.pk}


SAMPLE_KWARGS = {
    "inbox:index": lambda world: {},
    "inbox:list-poll": lambda world: {},
    "inbox:thread": _conversation,
    "inbox:thread-poll": _conversation,
    "inbox:reply": _conversation,
    "inbox:note": _conversation,
    "inbox:send-template": _conversation,
    "inbox:assign": _conversation,
    "inbox:labels": _conversation,
    "inbox:status": _conversation,
    "inbox:take-over": _conversation,
    "inbox:hand-back": _conversation,
    "inbox:escalate": _conversation,
    "inbox:media": _media,
    "inbox:media-retry": _media,
}
