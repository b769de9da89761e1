"""Forms of the assistant's admin pages: settings, knowledge entries, import, sandbox.

Forms parse what the browser sends (lines into lists, checkboxes into days); the rules live in
the services (`assistant_config_update`, `knowledge_entry_create`, ...), whose errors are put
back on the form next to the field they concern, with what the admin typed kept.

The settings form is built from `EDITABLE_FIELDS`: a setting added there (and to the model)
appears on the form with a field derived from the model field, without touching this module;
`LABELS`, `HELP` and `GROUPS` only make it read better.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import FieldDoesNotExist

from chatdesk.assistant.conf import MAX_TEMPERATURE
from chatdesk.assistant.models import AssistantConfig, AssistantMode
from chatdesk.assistant.services import FORM_FIELDS, KEY_MAX

LABELS = {
    "name": "Assistant name",
    "persona": "Persona",
    "allowed_topics": "Allowed topics",
    "forbidden_topics": "Forbidden topics",
    "threshold": "Confidence threshold",
    "mode": "Mode",
    "sample_every": "Review 1 in N drafts (sampled mode)",
    "holding_message": "Holding message",
    "business_hours": "Business hours",
    "temperature": "LLM temperature",
    "max_reply_chars": "Reply length cap (characters)",
    "use_first_name": "Greet customers by first name",
    "kill_switch": "Kill switch",
    "review_timeout_minutes": "Send the holding message after (minutes waiting for review)",
    "after_hours_message": "After-hours message",
    "hours_days": "Open on",
    "hours_start": "Opens at",
    "hours_end": "Closes at",
    "hours_timezone": "Time zone",
}
HELP = {
    "persona": "How the assistant sounds (used by the LLM composer only).",
    "allowed_topics": "One per line. Empty: every topic of the knowledge base.",
    "forbidden_topics": "One per line. A message or draft touching one always goes to a human.",
    "threshold": "0 to 1. Below it the assistant escalates instead of answering (default 0.70).",
    "holding_message": "Sent to the customer when the assistant hands the conversation over.",
    "temperature": f"0 to {MAX_TEMPERATURE} (capped). Lower is more literal.",
    "max_reply_chars": "Longer drafts are blocked by the guard.",
    "after_hours_message": "Sent instead of the holding message outside business hours; "
    "{next_open} becomes the next opening time.",
    "hours_days": "No day ticked: always open.",
    "hours_timezone": "An IANA name such as Asia/Jakarta. Empty: the server's time zone.",
}
GROUPS = (
    ("Identity", ("name", "persona")),
    ("Scope", ("allowed_topics", "forbidden_topics", "threshold")),
    ("Mode", ("mode", "sample_every", "review_timeout_minutes")),
    ("Replies", ("max_reply_chars", "use_first_name", "temperature", "holding_message")),
    (
        "Business hours",
        ("hours_days", "hours_start", "hours_end", "hours_timezone", "after_hours_message"),
    ),
)
WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]
HOURS_FIELDS = {
    "days": "hours_days",
    "start": "hours_start",
    "end": "hours_end",
    "timezone": "hours_timezone",
}
TOPIC_FIELDS = ("allowed_topics", "forbidden_topics")
_TIME_WITH_SECONDS = re.compile(r"^(\d{2}:\d{2}):\d{2}(\.\d+)?$")


def split_lines(text: str, *, commas: bool = False) -> list[str]:
    parts = re.split(r"[\n,]" if commas else r"\n", text or "")
    return [p.strip() for p in parts if p.strip()]


def label_for(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    try:
        return str(AssistantConfig._meta.get_field(name).verbose_name).capitalize()
    except FieldDoesNotExist:  # a form-only field
        return name.replace("_", " ").capitalize()


class AssistantSettingsForm(forms.Form):
    base_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, config: AssistantConfig, **kwargs):
        kwargs.setdefault("initial", self.initial_from(config))
        super().__init__(*args, **kwargs)
        self.config = config
        for name in FORM_FIELDS:
            if name == "business_hours":
                self._add_hours_fields()
            else:
                self.fields[name] = self._field_for(name)
        for name, form_field in self.fields.items():
            form_field.label = label_for(name) if name != "base_version" else ""
            if name in HELP:
                form_field.help_text = HELP[name]

    @staticmethod
    def initial_from(config: AssistantConfig) -> dict[str, Any]:
        initial: dict[str, Any] = {"base_version": config.version}
        for name in FORM_FIELDS:
            value = getattr(config, name)
            if name in TOPIC_FIELDS:
                initial[name] = "\n".join(value)
            elif name == "business_hours":
                hours = value or {}
                initial["hours_days"] = [str(d) for d in hours.get("days", [])]
                initial["hours_start"] = hours.get("start", "")
                initial["hours_end"] = hours.get("end", "")
                initial["hours_timezone"] = hours.get("timezone", "")
            else:
                initial[name] = value
        return initial

    def _field_for(self, name: str) -> forms.Field:
        if name in TOPIC_FIELDS:
            return forms.CharField(
                required=False, widget=forms.Textarea(attrs={"rows": 4}), max_length=5000
            )
        if name == "mode":
            return forms.ChoiceField(choices=AssistantMode.choices)
        if name == "threshold":
            return forms.FloatField(widget=forms.NumberInput(attrs={"step": "0.01"}))
        if name == "temperature":
            return forms.FloatField(widget=forms.NumberInput(attrs={"step": "0.05"}))
        model_field = AssistantConfig._meta.get_field(name)
        form_field = model_field.formfield()
        if isinstance(form_field, forms.CharField) and isinstance(
            form_field.widget, forms.Textarea
        ):
            form_field.widget.attrs.update(rows=3)
        if isinstance(form_field, forms.CharField):
            # Typed text is kept as typed; the service strips it.
            form_field.strip = False
        return form_field

    def _add_hours_fields(self) -> None:
        self.fields["hours_days"] = forms.TypedMultipleChoiceField(
            choices=WEEKDAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple
        )
        for key in ("hours_start", "hours_end"):
            self.fields[key] = forms.CharField(
                required=False, max_length=8, widget=forms.TimeInput(attrs={"type": "time"})
            )
        self.fields["hours_timezone"] = forms.CharField(
            required=False,
            max_length=64,
            widget=forms.TextInput(attrs={"placeholder": "Asia/Jakarta"}),
        )

    def values(self) -> dict[str, Any]:
        """The settings as `assistant_config_update` takes them (call after is_valid())."""
        data = self.cleaned_data
        values: dict[str, Any] = {}
        for name in FORM_FIELDS:
            if name in TOPIC_FIELDS:
                values[name] = split_lines(data[name], commas=True)
            elif name == "business_hours":
                values[name] = self._hours()
            else:
                values[name] = data[name]
        return values

    def _hours(self) -> dict[str, Any]:
        data = self.cleaned_data
        start, end = (self._time(data["hours_start"]), self._time(data["hours_end"]))
        if not data["hours_days"] and not start and not end:
            return {}  # always open
        hours: dict[str, Any] = {"days": sorted(set(data["hours_days"]))}
        hours.update(start=start, end=end)
        if data["hours_timezone"].strip():
            hours["timezone"] = data["hours_timezone"].strip()
        return hours

    @staticmethod
    def _time(value: str) -> str:
        value = (value or "").strip()
        match = _TIME_WITH_SECONDS.match(value)
        return match.group(1) if match else value

    def clean(self):
        cleaned = super().clean()
        has_times = any((cleaned.get(key) or "").strip() for key in ("hours_start", "hours_end"))
        if "hours_days" in cleaned and not cleaned["hours_days"] and has_times:
            self.add_error(
                "hours_days", "Tick the days you are open, or clear both times for always open."
            )
        return cleaned

    def add_service_errors(self, errors: list[str]) -> None:
        """Put each `AssistantConfigError` message next to the setting it names."""
        for message in errors:
            match = re.match(r"^([a-z_]+)(?:\.([a-z_]+))?\s+", message)
            target = None
            if match and match.group(1) == "business_hours" and match.group(2) in HOURS_FIELDS:
                target = HOURS_FIELDS[match.group(2)]
            elif match and match.group(1) == "business_hours":
                target = "hours_days"
            elif match and match.group(1) in self.fields:
                target = match.group(1)
            if target is not None:
                message = message[match.end() :]  # shown under the field: no need to name it
            self.add_error(target, _readable(message))

    def groups(self) -> list[tuple[str, list[forms.BoundField]]]:
        """Bound fields by section; a setting no group names lands in "More"."""
        placed: set[str] = {"base_version"}
        out = []
        for title, names in GROUPS:
            fields = [self[n] for n in names if n in self.fields]
            placed.update(names)
            if fields:
                out.append((title, fields))
        rest = [self[n] for n in self.fields if n not in placed]
        if rest:
            out.append(("More", rest))
        return out


def _readable(message: str) -> str:
    """Setting names inside a message become their labels: "... before \"Closes at\"." """

    def label(match: re.Match) -> str:
        section, key = match.group(1), match.group(2)
        name = HOURS_FIELDS.get(key, "") if section == "business_hours" and key else section
        return f'"{label_for(name)}"' if name in LABELS else match.group(0)

    message = re.sub(r"\b([a-z]+(?:_[a-z]+)+)(?:\.([a-z_]+))?\b", label, message)
    return message[:1].upper() + message[1:]


class KillSwitchForm(forms.Form):
    state = forms.ChoiceField(choices=[("on", "on"), ("off", "off")])


# --- Knowledge ----------------------------------------------------------------------------------


class KnowledgeEntryForm(forms.Form):
    key = forms.CharField(
        max_length=KEY_MAX,
        help_text="The entry's id in YAML files: lowercase letters, digits, - and _.",
        widget=forms.TextInput(attrs={"placeholder": "office-hours"}),
    )
    topic = forms.CharField(
        max_length=200, widget=forms.TextInput(attrs={"placeholder": "contact", "list": "topics"})
    )
    answer = forms.CharField(
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="The approved answer. Without an LLM it is sent as written.",
    )
    questions = forms.CharField(
        label="Example questions",
        max_length=300_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One per line, in every language customers write.",
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, entry=None, **kwargs):
        if entry is not None:
            kwargs.setdefault(
                "initial",
                {
                    "key": entry.key,
                    "topic": entry.topic,
                    "answer": entry.answer,
                    "questions": "\n".join(entry.questions),
                    "enabled": entry.enabled,
                },
            )
        super().__init__(*args, **kwargs)
        self.entry = entry
        if entry is not None:
            # The key is the entry's identity in YAML files and in drafts' sources: fixed.
            del self.fields["key"]
        for form_field in self.fields.values():
            if isinstance(form_field, forms.CharField):
                form_field.required = False  # the service says what is missing, in words

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        values = {
            "topic": data["topic"],
            "answer": data["answer"],
            "questions": split_lines(data["questions"]),
            "enabled": data["enabled"],
        }
        if "key" in self.fields:
            values["key"] = data["key"]
        return values

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for name, messages in errors.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)


class KnowledgeFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    topic = forms.CharField(required=False, max_length=200)
    page = forms.IntegerField(required=False, min_value=1)


class KnowledgeImportForm(forms.Form):
    file = forms.FileField(required=False, label="YAML file")
    text = forms.CharField(
        required=False,
        label="Or paste the YAML",
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
    )
    digest = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload:
            raw = upload.read()
            try:
                cleaned["text"] = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError(
                    "The file is not UTF-8 text: save it as UTF-8 and upload it again."
                ) from None
        if not (cleaned.get("text") or "").strip():
            raise forms.ValidationError("Choose a YAML file or paste its text.")
        return cleaned


# --- Sandbox ------------------------------------------------------------------------------------

SANDBOX_MESSAGE_MAX = 4096  # WhatsApp's limit for a text message


class SandboxForm(forms.Form):
    message = forms.CharField(
        label="Customer message",
        max_length=SANDBOX_MESSAGE_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Jam buka kantor kapan?"}),
        error_messages={"required": "Type the message a customer would send."},
    )
    history = forms.CharField(
        label="Earlier customer messages (optional)",
        required=False,
        max_length=SANDBOX_MESSAGE_MAX * 3,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, oldest first.",
    )
    name = forms.CharField(
        label="Customer's WhatsApp name (optional)",
        required=False,
        max_length=80,
        widget=forms.TextInput(attrs={"placeholder": "Siti Rahma"}),
    )

    def __init__(self, *args, max_turns: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_turns = max_turns
        self.fields[
            "history"
        ].help_text = f"One per line, oldest first; the assistant reads the last {max_turns}."

    def clean_history(self) -> list[str]:
        turns = split_lines(self.cleaned_data["history"])
        if len(turns) > self.max_turns:
            raise forms.ValidationError(
                f"At most {self.max_turns} earlier messages: the assistant reads only the "
                f"{self.max_turns} most recent ones ({len(turns)} entered)."
            )
        return turns
