"""`chatdesk reply --conversation ID --text T`: an agent's reply from the command line (until the
inbox UI exists). It goes through the real outbound path: recorded, then sent by the worker."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from chatdesk.crm.models import Conversation
from chatdesk.messaging.outbound import SendRefusedError, message_send_text


class Command(BaseCommand):
    help = "Reply to a conversation as an agent; the worker delivers it to the customer."

    def add_arguments(self, parser):
        parser.add_argument("--conversation", type=int, required=True, help="conversation id")
        parser.add_argument("--text", required=True)

    def handle(self, *args, conversation: int, text: str, **options):
        # An operator's command: it may name any workspace's conversation by id (the workspace is
        # taken from the row, never from input), hence the named unscoped access.
        found = (
            Conversation.dangerously_unscoped_objects.select_related("workspace", "contact")
            .filter(pk=conversation)
            .first()
        )
        if found is None:
            raise CommandError(f"No conversation with id {conversation}.")
        try:
            message = message_send_text(conversation=found, text=text)
        except SendRefusedError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Reply {message.pk} queued for {found.contact.phone} in workspace "
            f"{found.workspace.slug}; the worker sends it.\n"
        )
