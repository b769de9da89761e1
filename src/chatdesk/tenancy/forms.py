from __future__ import annotations

from django import forms

from chatdesk.tenancy.models import Membership, Role, roles_assignable_by
from chatdesk.tenancy.selectors import invitation_get_open_for_email, membership_get_by_email


class InvitationForm(forms.Form):
    """Invite an address to the workspace with a role the inviter is allowed to give."""

    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=())

    def __init__(self, *args, membership: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.membership = membership
        self.fields["role"].choices = [
            (role.value, role.label) for role in roles_assignable_by(membership.role)
        ]
        self.fields["role"].initial = Role.AGENT

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        email, role = cleaned.get("email"), cleaned.get("role")
        if not email or not role:
            return cleaned
        workspace = self.membership.workspace
        member = membership_get_by_email(workspace=workspace, email=email)
        if member is not None and member.has_role(role):
            self.add_error(
                "email", f"{email} is already a member of this workspace ({member.role})."
            )
        pending = invitation_get_open_for_email(workspace=workspace, email=email)
        if pending is not None and not self.membership.has_role(pending.role):
            # Re-inviting rewrites the pending invitation's role: only someone who could have
            # given that role may change it.
            self.add_error("email", f"Only an {pending.role} can change this invitation.")
        return cleaned
