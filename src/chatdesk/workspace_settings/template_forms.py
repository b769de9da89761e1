"""The Settings > Templates form: a template as approved at Meta, checked before it is saved."""

from __future__ import annotations

from django import forms

from chatdesk.messaging.models import (
    TEMPLATE_BODY_MAX_LENGTH,
    TEMPLATE_NAME_MAX_LENGTH,
    Channel,
    MessageTemplate,
    TemplateCategory,
    template_body_validate,
    template_language_validate,
    template_name_validate,
)
from chatdesk.tenancy.models import Workspace


class MessageTemplateForm(forms.Form):
    name = forms.CharField(
        max_length=TEMPLATE_NAME_MAX_LENGTH,
        validators=[template_name_validate],
        help_text="Exactly as approved at Meta, e.g. payment_reminder.",
    )
    language = forms.CharField(
        max_length=8,
        validators=[template_language_validate],
        help_text="The approved language's code, e.g. id, en or en_US.",
    )
    category = forms.ChoiceField(choices=TemplateCategory.choices)
    channel = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Every channel",
        help_text="The number it was approved for; leave “Every channel” if all share it.",
        error_messages={"invalid_choice": "Choose one of this workspace's channels."},
    )
    # Its length is checked by the validator (one message, with the count), not max_length.
    body = forms.CharField(
        validators=[template_body_validate],
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="The approved text, with {{1}}, {{2}}, … where the parameters go "
        f"(at most {TEMPLATE_BODY_MAX_LENGTH} characters).",
    )

    def __init__(self, data=None, *, workspace: Workspace, instance: MessageTemplate | None = None):
        initial = None
        if instance is not None:
            initial = {
                "name": instance.name,
                "language": instance.language,
                "category": instance.category,
                "channel": instance.channel_id,
                "body": instance.body,
            }
        super().__init__(data, initial=initial)
        self.workspace, self.instance = workspace, instance
        self.fields["channel"].queryset = Channel.objects.for_workspace(workspace).order_by(
            "name", "display_number"
        )
        self.fields["channel"].label_from_instance = lambda c: c.name or c.display_number

    def clean(self):
        cleaned = super().clean()
        name, language = cleaned.get("name"), cleaned.get("language")
        if name and language:
            others = MessageTemplate.objects.for_workspace(self.workspace).filter(
                name=name, language=language
            )
            if self.instance is not None:
                others = others.exclude(pk=self.instance.pk)
            if others.exists():
                self.add_error(
                    "name",
                    f"This workspace already has a template named {name} in {language}.",
                )
        return cleaned
