"""`chatdesk create-workspace`: the first workspace of an instance and its owner's invitation.

Idempotent: a second run with the same arguments creates nothing new. It re-sends the pending
invitation (extended by a week), or says that the owner already joined and sends nothing.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email, validate_slug
from django.db import transaction

from chatdesk.tenancy.models import Role, Workspace
from chatdesk.tenancy.selectors import membership_get_by_email, workspace_get_by_slug
from chatdesk.tenancy.services import (
    invitation_create,
    invitation_send,
    invitation_url,
    workspace_create,
)

NAME_MAX = Workspace._meta.get_field("name").max_length
SLUG_MAX = Workspace._meta.get_field("slug").max_length


class Command(BaseCommand):
    help = "Create a workspace (or reuse it) and email its owner an invitation."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Display name, e.g. 'Acme Education'")
        parser.add_argument("--slug", required=True, help="URL name: lowercase letters, digits, -")
        parser.add_argument("--owner-email", required=True, help="Address the invitation goes to")

    def handle(self, *args, name: str, slug: str, owner_email: str, **options):
        name, slug, email = self._validated(name, slug, owner_email)

        with transaction.atomic():
            workspace = workspace_get_by_slug(slug=slug)
            if workspace is None:
                workspace = workspace_create(name=name, slug=slug)
                self.stdout.write(f"Created workspace '{name}' (slug {slug}).")
            elif workspace.name != name:
                raise CommandError(
                    f"The slug '{slug}' already belongs to the workspace '{workspace.name}'. "
                    f"Use that exact name to reuse it, or choose another slug."
                )
            else:
                self.stdout.write(f"Workspace '{name}' (slug {slug}) already exists; reusing it.")

            owner = membership_get_by_email(workspace=workspace, email=email)
            if owner is not None and owner.role == Role.OWNER:
                self.stdout.write(
                    f"{email} already accepted and is an owner of '{name}'. Nothing was sent."
                )
                return
            invitation, created = invitation_create(
                workspace=workspace, email=email, role=Role.OWNER
            )

        if created:
            self.stdout.write(f"Created an owner invitation for {email}.")
        else:
            self.stdout.write(
                f"An owner invitation for {email} was already pending: extended it and sending "
                "the same link again."
            )
        link = invitation_url(invitation=invitation)
        expires = f"{invitation.expires_at:%Y-%m-%d %H:%M} UTC"
        try:
            invitation_send(invitation=invitation)
        except Exception as error:
            self.stdout.write(f"Invitation link (valid until {expires}): {link}")
            raise CommandError(
                f"The invitation is saved but the email could not be sent "
                f"({type(error).__name__}). Give the owner the link above, or fix the email "
                "settings (`chatdesk check-env`) and run this command again to re-send it."
            ) from error
        self.stdout.write(self.style.SUCCESS(f"Emailed the invitation to {email}."))
        self.stdout.write(f"Invitation link (valid until {expires}): {link}")

    def _validated(self, name: str, slug: str, email: str) -> tuple[str, str, str]:
        name, slug, email = name.strip(), slug.strip(), email.strip().lower()
        if not name or len(name) > NAME_MAX:
            raise CommandError(f"--name must be 1 to {NAME_MAX} characters.")
        try:
            validate_slug(slug)
        except ValidationError:
            raise CommandError(
                f"--slug '{slug}' is not valid: use letters, digits, hyphens or underscores only "
                "(e.g. acme-education)."
            ) from None
        if slug != slug.lower() or len(slug) > SLUG_MAX:
            raise CommandError(f"--slug must be lowercase and at most {SLUG_MAX} characters.")
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"--owner-email '{email}' is not a valid email address.") from None
        return name, slug, email
