from __future__ import annotations

from django import forms

from chatdesk.audit.models import AuditAction
from chatdesk.audit.selectors import Cursor, CursorError


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(choices=[("", "All actions"), *AuditAction.choices], required=False)
    after = forms.CharField(required=False, max_length=48, widget=forms.HiddenInput)

    def clean_after(self) -> Cursor | None:
        text = self.cleaned_data["after"]
        if not text:
            return None
        try:
            return Cursor.parse(text)
        except CursorError as error:
            raise forms.ValidationError(str(error)) from None
