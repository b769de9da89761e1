"""Channels (WhatsApp numbers connected through a provider), raw webhook events, status reports,
and the workspace's approved message templates."""

from __future__ import annotations

import re
import secrets

from django.core.exceptions import ValidationError
from django.db import models

from chatdesk.common.fields import EncryptedTextField
from chatdesk.tenancy.scoping import WorkspaceScopedModel


class ChannelKind(models.TextChoices):
    META = "meta", "Meta WhatsApp Cloud API"
    KAPSO = "kapso", "Kapso"


def new_channel_key() -> str:
    return secrets.token_urlsafe(24)


class Channel(WorkspaceScopedModel):
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    name = models.CharField(max_length=120, blank=True)
    phone_number_id = models.CharField(max_length=64)
    display_number = models.CharField(max_length=32)
    channel_key = models.CharField(
        max_length=64, unique=True, default=new_channel_key, editable=False
    )
    # Meta: the app secret; Kapso: the webhook secret. Both sign webhooks with HMAC-SHA256.
    signing_secret = EncryptedTextField()
    # During a rotation both secrets verify, until the previous one is removed.
    previous_signing_secret = EncryptedTextField(null=True, blank=True)
    # Meta: the access token; Kapso: the API key.
    api_token = EncryptedTextField()
    verify_token = EncryptedTextField(null=True, blank=True, help_text="Meta webhook handshake")
    is_active = models.BooleanField(default=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    last_webhook_outcome = models.CharField(max_length=64, blank=True)
    last_signature_failure_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "phone_number_id"], name="channel_unique_phone_number_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.display_number}"


class WebhookEvent(WorkspaceScopedModel):
    """A raw provider delivery, kept for replay and audit (see WEBHOOK_EVENT_RETENTION_DAYS)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="webhook_events")
    # Kapso: X-Idempotency-Key; Meta: sha256 of the body (Meta re-sends identical bytes).
    idempotency_key = models.CharField(max_length=128)
    event_type = models.CharField(max_length=64, blank=True)
    body = models.BinaryField(help_text="The exact bytes received (what the signature covered)")
    request_id = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "idempotency_key"], name="webhook_event_unique_key"
            )
        ]


class StatusReport(WorkspaceScopedModel):
    """A delivery status from the provider, kept even when its message is not (yet) known."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    provider_message_id = models.CharField(max_length=128)
    status = models.CharField(max_length=16)
    provider_timestamp = models.DateTimeField()
    error_code = models.CharField(max_length=32, blank=True)
    error_reason = models.TextField(blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider_message_id", "status"],
                name="status_report_unique",
            )
        ]
        indexes = [
            models.Index(fields=["channel", "provider_message_id"], name="status_report_lookup_idx")
        ]


# --- Approved message templates -------------------------------------------------------------

# Outside the 24-hour window WhatsApp delivers only templates approved at Meta; chatdesk keeps
# a registry of them (name, language, body) so agents can pick one and fill in its parameters.
TEMPLATE_NAME_MAX_LENGTH = 512  # Meta's limit
TEMPLATE_BODY_MAX_LENGTH = 1024  # Meta's limit for a body component
TEMPLATE_PARAMETER_MAX_LENGTH = 1024
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]+")
_TEMPLATE_LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
# A placeholder as Meta writes it, {{1}}; anything else between double braces is a mistake.
TEMPLATE_PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")
_BRACES = re.compile(r"\{\{.*?\}\}")


class TemplateCategory(models.TextChoices):
    UTILITY = "utility", "Utility"
    MARKETING = "marketing", "Marketing"
    AUTHENTICATION = "authentication", "Authentication"


def template_name_validate(value: str) -> None:
    if not _TEMPLATE_NAME.fullmatch(value or ""):
        raise ValidationError(
            "Use the name exactly as approved at Meta: lowercase letters, digits and "
            "underscores only (e.g. payment_reminder).",
            code="invalid_template_name",
        )


def template_language_validate(value: str) -> None:
    if not _TEMPLATE_LANGUAGE.fullmatch(value or ""):
        raise ValidationError(
            "Use the template's language code as Meta shows it, e.g. id, en or en_US.",
            code="invalid_template_language",
        )


def template_placeholders(body: str) -> int:
    """How many parameters `body` takes ({{1}} .. {{n}}); ValidationError when they are
    malformed or not numbered 1 to n (Meta's rule)."""
    for token in _BRACES.findall(body):
        if not TEMPLATE_PLACEHOLDER.fullmatch(token):
            raise ValidationError(
                f"“{token}” is not a placeholder: write {{{{1}}}}, {{{{2}}}}, … (numbers only, "
                "no spaces).",
                code="invalid_placeholder",
            )
    numbers = sorted({int(n) for n in TEMPLATE_PLACEHOLDER.findall(body)})
    if numbers != list(range(1, len(numbers) + 1)):
        missing = sorted(set(range(1, (numbers[-1] if numbers else 0) + 1)) - set(numbers))
        raise ValidationError(
            "Placeholders must be numbered from {{1}} without gaps; missing: "
            + ", ".join(f"{{{{{n}}}}}" for n in missing)
            + ".",
            code="placeholder_gap",
        )
    return len(numbers)


def template_body_validate(value: str) -> None:
    value = value or ""
    if len(value) > TEMPLATE_BODY_MAX_LENGTH:
        raise ValidationError(
            f"WhatsApp template bodies are limited to {TEMPLATE_BODY_MAX_LENGTH} characters "
            f"(this one has {len(value)}).",
            code="max_length",
        )
    template_placeholders(value)


class MessageTemplate(WorkspaceScopedModel):
    """A WhatsApp message template approved at Meta, as agents may send it."""

    channel = models.ForeignKey(
        Channel,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="message_templates",
        help_text="Empty: approved for every channel of the workspace",
    )
    name = models.CharField(
        max_length=TEMPLATE_NAME_MAX_LENGTH, validators=[template_name_validate]
    )
    language = models.CharField(max_length=8, validators=[template_language_validate])
    category = models.CharField(max_length=16, choices=TemplateCategory.choices)
    body = models.TextField(
        max_length=TEMPLATE_BODY_MAX_LENGTH,
        validators=[template_body_validate],
        help_text="The approved body text, with {{1}}, {{2}}, … where the parameters go",
    )
    is_enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name", "language"],
                name="message_template_unique_name_language",
                violation_error_message="This workspace already has a template with this name "
                "and language.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    @property
    def parameter_count(self) -> int:
        return len(set(TEMPLATE_PLACEHOLDER.findall(self.body)))

    def render(self, parameters: list[str]) -> str:
        """The body with {{n}} replaced by parameters[n - 1] (left as is when missing)."""

        def fill(match: re.Match) -> str:
            n = int(match.group(1))
            return parameters[n - 1] if 0 < n <= len(parameters) else match.group(0)

        return TEMPLATE_PLACEHOLDER.sub(fill, self.body)


# Meta refuses parameters with a newline, a tab or more than four spaces in a row (132018).
_PARAMETER_FORBIDDEN = re.compile(r"[\n\r\t]| {5,}")


def template_parameter_errors(template: MessageTemplate, parameters: list[str]) -> dict[int, str]:
    """{n: what is wrong with {{n}}} for the values an agent typed; empty when all is well."""
    errors = {}
    for n in range(1, template.parameter_count + 1):
        value = parameters[n - 1].strip() if n <= len(parameters) else ""
        if not value:
            errors[n] = f"Fill in {{{{{n}}}}}: the template needs it."
        elif len(value) > TEMPLATE_PARAMETER_MAX_LENGTH:
            errors[n] = (
                f"{{{{{n}}}}} is too long (at most {TEMPLATE_PARAMETER_MAX_LENGTH} characters)."
            )
        elif _PARAMETER_FORBIDDEN.search(value):
            errors[n] = (
                f"{{{{{n}}}}} cannot contain line breaks, tabs or more than four spaces in a row "
                "(WhatsApp refuses them)."
            )
    return errors
