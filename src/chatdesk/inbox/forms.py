"""Inbox inputs. Every id from the browser is looked up inside the current workspace only."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms

from chatdesk.crm.models import ConversationStatus
from chatdesk.inbox.selectors import (
    AssignedFilter,
    Cursor,
    InboxFilters,
    InvalidCursorError,
    StatusFilter,
    channel_list,
    label_list,
    member_user_list,
)
from chatdesk.inbox.services import NOTE_MAX_LENGTH
from chatdesk.tenancy.models import Workspace

STATUS_TABS = [
    (StatusFilter.OPEN, "Open"),
    (StatusFilter.PENDING, "Pending"),
    (StatusFilter.RESOLVED, "Resolved"),
    (StatusFilter.ALL, "All"),
]
ASSIGNED_TABS = [
    (AssignedFilter.MINE, "Mine"),
    (AssignedFilter.UNASSIGNED, "Unassigned"),
    (AssignedFilter.ALL, "Everyone's"),
]


class InboxFilterForm(forms.Form):
    """The list's filters, from the query string. Blank means the default (open, everyone's)."""

    status = forms.ChoiceField(choices=STATUS_TABS, required=False)
    assigned = forms.ChoiceField(choices=ASSIGNED_TABS, required=False)
    channel = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="All channels",
        error_messages={"invalid_choice": "That channel is not one of this workspace's."},
    )
    label = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="All labels",
        error_messages={"invalid_choice": "That label is not one of this workspace's."},
    )
    needs_human = forms.BooleanField(required=False, label="Needs a human")
    needs_template = forms.BooleanField(required=False, label="Needs a template")
    q = forms.CharField(
        required=False,
        max_length=100,
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, phone or message text"}
        ),
    )
    cursor = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, data=None, *, workspace: Workspace):
        super().__init__(data)
        self.fields["channel"].queryset = channel_list(workspace=workspace)
        self.fields["channel"].label_from_instance = lambda c: c.name or c.display_number
        self.fields["label"].queryset = label_list(workspace=workspace)

    def clean_q(self) -> str:
        q = self.cleaned_data["q"]
        if len(q) == 1:
            raise forms.ValidationError("Type at least 2 characters to search.")
        return q

    def clean_cursor(self) -> Cursor | None:
        raw = self.cleaned_data["cursor"]
        if not raw:
            return None
        try:
            return Cursor.decode(raw)
        except InvalidCursorError:
            raise forms.ValidationError(
                "This page link is not valid; showing the newest conversations."
            ) from None

    def _valid_data(self) -> dict:
        """The fields that passed validation; an invalid one falls back to its default (its
        error is shown next to it), so a bad filter never hides the whole list."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return self.cleaned_data

    def filters(self) -> InboxFilters:
        data = self._valid_data()
        channel, label = data.get("channel"), data.get("label")
        return InboxFilters(
            status=data.get("status") or StatusFilter.OPEN,
            assigned=data.get("assigned") or AssignedFilter.ALL,
            channel_id=channel.pk if channel else None,
            label_id=label.pk if label else None,
            needs_human=bool(data.get("needs_human")),
            needs_template=bool(data.get("needs_template")),
            q=data.get("q") or "",
        )

    def cursor_value(self) -> Cursor | None:
        return self._valid_data().get("cursor")


def filters_query(filters: InboxFilters, **overrides) -> str:
    """The query string of `filters` (defaults left out), for links that keep the list's view."""
    values = {
        "status": filters.status if filters.status != StatusFilter.OPEN else "",
        "assigned": filters.assigned if filters.assigned != AssignedFilter.ALL else "",
        "channel": filters.channel_id or "",
        "label": filters.label_id or "",
        "needs_human": "on" if filters.needs_human else "",
        "needs_template": "on" if filters.needs_template else "",
        "q": filters.q,
    }
    values.update(overrides)
    return urlencode({k: v for k, v in values.items() if v not in ("", None)})


class ComposerForm(forms.Form):
    text = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        strip=True,
        error_messages={
            "required": "Write something first.",
            "max_length": "Messages are limited to %(limit_value)d characters (this one has "
            "%(show_value)d).",
        },
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write a reply…"}),
    )


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Unassigned",
        error_messages={"invalid_choice": "Choose a member of this workspace."},
    )

    def __init__(self, data=None, *, workspace: Workspace, initial=None):
        super().__init__(data, initial=initial)
        self.fields["assignee"].queryset = member_user_list(workspace=workspace)
        self.fields["assignee"].label_from_instance = user_display_name


def user_display_name(user) -> str:
    return user.get_full_name() or user.email or user.get_username()


class LabelsForm(forms.Form):
    labels = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": "Choose labels of this workspace (%(value)s is not one).",
            "invalid_pk_value": "“%(pk)s” is not a label id.",
        },
    )

    def __init__(self, data=None, *, workspace: Workspace, initial=None):
        super().__init__(data, initial=initial)
        self.fields["labels"].queryset = label_list(workspace=workspace)


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=ConversationStatus.choices,
        error_messages={"invalid_choice": "Choose open, pending or resolved."},
    )
