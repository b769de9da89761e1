"""Inbox inputs. Every id from the browser is looked up inside the current workspace only."""

from __future__ import annotations

from dataclasses import dataclass
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
from chatdesk.messaging.models import MessageTemplate, template_parameter_errors
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


@dataclass
class TemplateParameter:
    number: int
    name: str  # the input's name: param_<number>
    value: str
    error: str


@dataclass
class TemplatePicker:
    """What the composer's template picker shows (rendered by hand: see inbox/display.py)."""

    options: list[tuple[str, str, bool]]  # (value, label, selected)
    chosen: MessageTemplate | None
    parameters: list[TemplateParameter]
    preview: str
    template_error: str = ""
    notice: str = ""


def template_label(template: MessageTemplate) -> str:
    return f"{template.name} ({template.language}) · {template.get_category_display()}"


class TemplateSendForm(forms.Form):
    """An approved template and its parameters. The parameter fields follow the template named
    in the submitted data, so the values typed survive every error and every preview."""

    template = forms.TypedChoiceField(
        coerce=int,
        empty_value=None,
        error_messages={
            "required": "Choose a template first.",
            "invalid_choice": "That template is not available for this channel; choose another.",
        },
    )

    def __init__(self, data=None, *, templates: list[MessageTemplate]):
        super().__init__(data)
        by_pk = {t.pk: t for t in templates}
        self.fields["template"].choices = [("", "Choose a template…")] + [
            (t.pk, template_label(t)) for t in templates
        ]
        if data is None:
            # Nothing chosen yet: a workspace with one template has chosen it already.
            self.chosen = templates[0] if len(templates) == 1 else None
        else:
            raw = str(data.get("template", ""))
            self.chosen = by_pk.get(int(raw)) if raw.isdigit() else None
        for n in range(1, self.parameter_count + 1):
            self.fields[f"param_{n}"] = forms.CharField(required=False, max_length=None)

    @property
    def parameter_count(self) -> int:
        return self.chosen.parameter_count if self.chosen else 0

    def parameters(self) -> list[str]:
        """The values typed for the chosen template, {{1}} first."""
        return [
            (self[f"param_{n}"].value() or "").strip() if self.is_bound else ""
            for n in range(1, self.parameter_count + 1)
        ]

    def clean(self):
        cleaned = super().clean()
        if self.chosen is not None and cleaned.get("template") == self.chosen.pk:
            for n, error in template_parameter_errors(self.chosen, self.parameters()).items():
                self.add_error(f"param_{n}", error)
        return cleaned

    def picker(self, *, show_errors: bool = True, notice: str = "") -> TemplatePicker:
        errors = self.errors if show_errors and self.is_bound else {}
        typed = self.parameters()
        chosen_value = str(self.chosen.pk) if self.chosen else ""
        return TemplatePicker(
            options=[
                (str(value), label, str(value) == chosen_value)
                for value, label in self.fields["template"].choices
            ],
            chosen=self.chosen,
            parameters=[
                TemplateParameter(
                    number=n,
                    name=f"param_{n}",
                    value=value,
                    error=" ".join(errors.get(f"param_{n}", [])),
                )
                for n, value in enumerate(typed, start=1)
            ],
            # A blank parameter shows as its placeholder, as the live preview shows it.
            preview=self.chosen.render([v or f"{{{{{n}}}}}" for n, v in enumerate(typed, 1)])
            if self.chosen
            else "",
            template_error=" ".join(errors.get("template", []) + errors.get("__all__", [])),
            notice=notice,
        )
