"""Forms of the contact pages. Every id that comes from the browser (label, owner) is looked up
among this workspace's objects only; anything else is "not a valid choice"."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from django import forms

from chatdesk.crm.csv_io import (
    MAX_CUSTOM_FIELDS,
    MAX_CUSTOM_KEY,
    MAX_CUSTOM_VALUE,
    MAX_IMPORT_BYTES,
    MAX_LABEL_NAME,
    CsvFileError,
    csv_decode,
    custom_fields_clean,
)
from chatdesk.crm.models import LeadSource, LeadStatus
from chatdesk.crm.phones import DEFAULT_REGION, REGION_CHOICES, InvalidPhoneError, phone_to_e164
from chatdesk.crm.selectors import ContactCursor, ContactFilters

UNOWNED = "none"


def _user_label(user) -> str:
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return f"{full} ({user.email})" if full else (user.email or user.get_username())


class ObjectChoiceField(forms.ChoiceField):
    """A choice among objects already loaded (one query for the page, none to validate)."""

    def __init__(self, *, objects: Sequence = (), label_of: Callable = str, empty="", **kwargs):
        self.objects = {str(obj.pk): obj for obj in objects}
        choices = [("", empty)] if empty is not None else []
        choices += [(key, label_of(obj)) for key, obj in self.objects.items()]
        super().__init__(choices=choices, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        return self.objects.get(value) if value else None


class ObjectMultipleChoiceField(forms.MultipleChoiceField):
    def __init__(self, *, objects: Sequence = (), label_of: Callable = str, **kwargs):
        self.objects = {str(obj.pk): obj for obj in objects}
        choices = [(key, label_of(obj)) for key, obj in self.objects.items()]
        super().__init__(choices=choices, **kwargs)

    def clean(self, value):
        return [self.objects[key] for key in super().clean(value)]


class ContactFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search")
    lead_status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *LeadStatus.choices], label="Lead status"
    )
    source = forms.ChoiceField(
        required=False, choices=[("", "Any source"), *LeadSource.choices], label="Source"
    )
    created_from = forms.DateField(
        required=False, label="Created from", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        required=False, label="Created until", widget=forms.DateInput(attrs={"type": "date"})
    )
    after = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, labels: Sequence, members: Sequence, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"] = ObjectChoiceField(
            objects=labels, empty="Any label", required=False, label="Label"
        )
        owner = ObjectChoiceField(
            objects=members, label_of=_user_label, empty="Any owner", required=False, label="Owner"
        )
        owner.choices = [owner.choices[0], (UNOWNED, "No owner"), *owner.choices[1:]]
        self.fields["owner"] = owner
        self.order_fields(
            ["q", "lead_status", "source", "label", "owner", "created_from", "created_to"]
        )

    def clean_owner(self):
        # ObjectChoiceField maps ids to users; "none" is the one non-id choice.
        return UNOWNED if self.data.get("owner") == UNOWNED else self.cleaned_data["owner"]

    def clean_after(self):
        token = self.cleaned_data["after"]
        if not token:
            return None
        try:
            return ContactCursor.decode(token)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None

    def clean(self):
        data = super().clean()
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "“Created until” is before “Created from”.")
        return data

    def filters(self) -> ContactFilters:
        data = self.cleaned_data
        owner = data.get("owner")
        return ContactFilters(
            q=data.get("q", "").strip(),
            lead_status=data.get("lead_status", ""),
            source=data.get("source", ""),
            label=data.get("label"),
            owner_id=owner.pk if owner not in (None, UNOWNED) else None,
            unowned=owner == UNOWNED,
            created_from=data.get("created_from"),
            created_to=data.get("created_to"),
        )

    def is_filtered(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return any(data.get(name) for name in self.fields if name != "after")


class ContactForm(forms.Form):
    name = forms.CharField(max_length=200)
    phone = forms.CharField(
        max_length=40,
        help_text="With the country code (+62 812 3456 7890), or a local number of the region "
        "below. Saved in the international E.164 form.",
    )
    region = forms.ChoiceField(
        choices=REGION_CHOICES, initial=DEFAULT_REGION, label="Region of local numbers"
    )
    email = forms.EmailField(required=False, label="E-mail")

    def __init__(self, *args, members: Sequence, creating: bool, phone_locked=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"] = ObjectChoiceField(
            objects=members, label_of=_user_label, empty="No owner", required=False, label="Owner"
        )
        if creating:
            self.fields["lead_status"] = forms.ChoiceField(
                choices=LeadStatus.choices, initial=LeadStatus.NEW, label="Lead status"
            )
        if phone_locked:
            self.fields["phone"].disabled = True
            self.fields[
                "phone"
            ].help_text = "This contact has conversations: the number stays as WhatsApp knows it."

    def clean(self):
        data = super().clean()
        phone = data.get("phone")
        if phone:
            try:
                data["phone"] = phone_to_e164(phone, region=data.get("region") or DEFAULT_REGION)
            except InvalidPhoneError as error:
                self.add_error("phone", str(error))
        return data


class CustomFieldForm(forms.Form):
    key = forms.CharField(required=False, max_length=MAX_CUSTOM_KEY, label="Field")
    value = forms.CharField(required=False, max_length=MAX_CUSTOM_VALUE, label="Value")


class BaseCustomFieldFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        pairs = []
        for form in self.forms:
            key = form.cleaned_data.get("key", "").strip()
            value = form.cleaned_data.get("value", "").strip()
            if not key and not value:
                continue  # an empty row: nothing to keep
            if not key:
                raise forms.ValidationError(f"The value “{value[:30]}” needs a field name.")
            pairs.append((key, value))
        try:
            self.custom_fields = custom_fields_clean(pairs)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None


CustomFieldFormSet = forms.formset_factory(
    CustomFieldForm,
    formset=BaseCustomFieldFormSet,
    extra=2,
    max_num=MAX_CUSTOM_FIELDS,
    validate_max=True,
    absolute_max=MAX_CUSTOM_FIELDS + 10,
)


def custom_field_formset(data=None, *, initial: dict[str, str] | None = None):
    rows = [{"key": k, "value": v} for k, v in (initial or {}).items()]
    return CustomFieldFormSet(data, initial=rows, prefix="cf")


class LeadStatusForm(forms.Form):
    lead_status = forms.ChoiceField(choices=LeadStatus.choices, label="Lead status")


class ContactNoteForm(forms.Form):
    text = forms.CharField(max_length=5000, label="Note", widget=forms.Textarea(attrs={"rows": 3}))

    def clean_text(self):
        text = self.cleaned_data["text"].strip()
        if not text:
            raise forms.ValidationError("A note needs some text.")
        return text


class ContactLabelsForm(forms.Form):
    new_labels = forms.CharField(
        required=False,
        max_length=200,
        label="New labels",
        help_text="Separate several with commas.",
    )

    def __init__(self, *args, labels: Sequence, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["labels"] = ObjectMultipleChoiceField(
            objects=labels, required=False, widget=forms.CheckboxSelectMultiple, label="Labels"
        )

    def clean_new_labels(self):
        names = [n.strip() for n in re.split(r"[,;]", self.cleaned_data["new_labels"])]
        names = list(dict.fromkeys(n for n in names if n))
        too_long = [n for n in names if len(n) > MAX_LABEL_NAME]
        if too_long:
            raise forms.ValidationError(f"Labels are at most {MAX_LABEL_NAME} characters.")
        return names


class ContactImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8 CSV, at most {MAX_IMPORT_BYTES // (1024 * 1024)} MB.",
    )
    region = forms.ChoiceField(
        choices=REGION_CHOICES, initial=DEFAULT_REGION, label="Region of local numbers"
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Checked before reading, so an oversized upload is never loaded into memory whole.
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB; split it."
            )
        try:
            return csv_decode(upload.read(MAX_IMPORT_BYTES + 1))
        except CsvFileError as error:
            raise forms.ValidationError(str(error)) from None


class ContactImportConfirmForm(forms.Form):
    token = forms.CharField(max_length=64, widget=forms.HiddenInput)
    region = forms.ChoiceField(choices=REGION_CHOICES, widget=forms.HiddenInput)
