from __future__ import annotations

from django import forms

from chatdesk.messaging.models import Channel
from chatdesk.tenancy.models import Membership, roles_assignable_by
from chatdesk.workspace_settings.services import CREDENTIAL_FIELDS, credential_label_in_sentence

CREDENTIAL_MAX_LENGTH = 4096  # Meta access tokens run to a few hundred characters
SIGNING_SECRET_MIN_LENGTH = 16  # Meta app secrets are 32 hex characters


class RoleChangeForm(forms.Form):
    role = forms.ChoiceField(choices=())

    def __init__(self, *args, by: Membership, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(r.value, r.label) for r in roles_assignable_by(by.role)]


class ChannelActiveForm(forms.Form):
    active = forms.TypedChoiceField(
        choices=[("true", "Active"), ("false", "Inactive")], coerce=lambda value: value == "true"
    )


class ChannelCredentialsForm(forms.Form):
    """Write-only: inputs are never filled in, and a blank field keeps the stored value."""

    def __init__(self, *args, channel: Channel, **kwargs):
        kwargs.setdefault("prefix", f"channel-{channel.pk}")
        super().__init__(*args, **kwargs)
        self.channel = channel
        for name, label in CREDENTIAL_FIELDS[channel.kind].items():
            self.fields[name] = forms.CharField(
                label=f"New {credential_label_in_sentence(label)}",
                required=False,
                max_length=CREDENTIAL_MAX_LENGTH,
                # render_value=False: a stored or submitted secret never goes back into the page;
                # "new-password" stops browsers from filling in someone's saved login password.
                widget=forms.PasswordInput(
                    render_value=False, attrs={"autocomplete": "new-password"}
                ),
            )

    def _clean_secret(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        if value and any(c.isspace() or not c.isprintable() for c in value):
            raise forms.ValidationError(
                "Paste the value without spaces or line breaks.", code="whitespace"
            )
        return value

    def clean(self):
        cleaned = super().clean()
        for name in self.fields:
            if self.has_error(name):
                continue
            try:
                cleaned[name] = self._clean_secret(name)
            except forms.ValidationError as error:
                self.add_error(name, error)
                continue
            if name == "signing_secret" and 0 < len(cleaned[name]) < SIGNING_SECRET_MIN_LENGTH:
                self.add_error(
                    name,
                    f"This is too short for a signing secret (at least "
                    f"{SIGNING_SECRET_MIN_LENGTH} characters). Copy it again from the "
                    "provider's console.",
                )
        if not self.errors and not any(cleaned.get(name) for name in self.fields):
            raise forms.ValidationError("Enter at least one new value; blank fields are kept.")
        return cleaned

    def values(self) -> dict[str, str]:
        return {name: value for name, value in self.cleaned_data.items() if value}
