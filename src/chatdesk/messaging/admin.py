"""Admin for channels and raw webhook events (the settings UI comes with the inbox issue).

Credentials are write-only: the form never renders a stored secret (EncryptedTextField uses a
password input without its value), an empty field on an existing channel keeps the current one,
and the lists show only whether each credential is set.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from chatdesk.messaging.models import Channel, ChannelKind, StatusReport, WebhookEvent
from chatdesk.messaging.selectors import channel_webhook_url

SECRET_FIELDS = ("signing_secret", "previous_signing_secret", "api_token", "verify_token")


class ChannelAdminForm(forms.ModelForm):
    keep_previous_secret = forms.BooleanField(
        required=False,
        initial=True,
        label="Keep accepting the current signing secret during the rotation",
        help_text=(
            "When you enter a new signing secret, the current one stays valid as the previous "
            "secret until you remove it below (once the provider signs with the new one)."
        ),
    )
    remove_previous_secret = forms.BooleanField(
        required=False,
        label="Remove the previous signing secret (ends a rotation)",
    )

    class Meta:
        model = Channel
        fields = [
            "workspace",
            "kind",
            "name",
            "phone_number_id",
            "display_number",
            "signing_secret",
            "api_token",
            "verify_token",
            "is_active",
        ]
        # Explicit: the admin would otherwise render these TextFields as textareas holding
        # the decrypted value (its formfield_overrides replace the field's password input).
        widgets = {
            name: forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
            for name in SECRET_FIELDS
        }
        labels = {
            "signing_secret": "Signing secret (Meta: app secret; Kapso: webhook secret)",
            "api_token": "API token (Meta: access token; Kapso: API key)",
            "verify_token": "Verify token (Meta webhook handshake)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        editing = self.instance.pk is not None
        for name in ("signing_secret", "api_token", "verify_token"):
            field = self.fields[name]
            if editing:
                # The stored value is never shown; leaving the field empty keeps it.
                field.required = False
                state = "set" if getattr(self.instance, name) else "not set"
                field.help_text = f"Currently {state}. Leave empty to keep it."
        if not editing:
            del self.fields["keep_previous_secret"]
            del self.fields["remove_previous_secret"]

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind") or self.instance.kind
        verify_token = cleaned.get("verify_token") or (
            self.instance.verify_token if self.instance.pk else ""
        )
        if kind == ChannelKind.META and not verify_token:
            self.add_error("verify_token", "A Meta channel needs a verify token for the handshake.")
        return cleaned

    def save(self, commit=True):
        channel = super().save(commit=False)
        if self.instance.pk is not None:
            new_secret = self.cleaned_data.get("signing_secret")
            if self.cleaned_data.get("remove_previous_secret"):
                channel.previous_signing_secret = None
            elif new_secret and self.cleaned_data.get("keep_previous_secret"):
                previous = Channel.dangerously_unscoped_objects.get(pk=channel.pk).signing_secret
                if previous and previous != new_secret:
                    channel.previous_signing_secret = previous
        if commit:
            channel.save()
            self.save_m2m()
        return channel


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelAdminForm
    list_display = [
        "display_number",
        "name",
        "kind",
        "workspace",
        "is_active",
        "last_webhook_at",
        "last_webhook_outcome",
        "last_signature_failure_at",
    ]
    list_filter = ["kind", "is_active"]
    search_fields = ["display_number", "name", "phone_number_id", "workspace__slug"]
    actions = ["activate", "deactivate"]
    list_select_related = ["workspace"]
    readonly_fields = [
        "webhook_url",
        "credentials",
        "last_webhook_at",
        "last_webhook_outcome",
        "last_signature_failure_at",
        "created_at",
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Moving a channel to another workspace would carry its conversations across tenants.
        return [*fields, "workspace"] if obj is not None else fields

    def get_fieldsets(self, request, obj=None):
        identity = ["workspace", "kind", "name", "phone_number_id", "display_number", "is_active"]
        secrets = ["signing_secret", "api_token", "verify_token"]
        if obj is None:
            return [(None, {"fields": identity}), ("Credentials", {"fields": secrets})]
        return [
            (None, {"fields": identity}),
            (
                "Webhook",
                {
                    "fields": [
                        "webhook_url",
                        "last_webhook_at",
                        "last_webhook_outcome",
                        "last_signature_failure_at",
                        "created_at",
                    ]
                },
            ),
            (
                "Credentials (write-only)",
                {
                    "fields": [
                        "credentials",
                        *secrets,
                        "keep_previous_secret",
                        "remove_previous_secret",
                    ]
                },
            ),
        ]

    @admin.action(description="Activate the selected channels (accept their webhooks)")
    def activate(self, request, queryset):
        updated = queryset.update(is_active=True)
        self.message_user(request, f"{updated} channel(s) activated.", messages.SUCCESS)

    @admin.action(description="Deactivate the selected channels (their webhooks get 404)")
    def deactivate(self, request, queryset):
        updated = queryset.update(is_active=False)
        self.message_user(request, f"{updated} channel(s) deactivated.", messages.SUCCESS)

    @admin.display(description="Webhook URL (paste into the provider's console)")
    def webhook_url(self, obj: Channel) -> str:
        return channel_webhook_url(channel=obj) if obj.pk else "-"

    @admin.display(description="Stored credentials")
    def credentials(self, obj: Channel) -> str:
        # Whether each one is set, never its value.
        labels = {
            "signing_secret": "signing secret",
            "previous_signing_secret": "previous signing secret (rotation)",
            "api_token": "API token",
            "verify_token": "verify token",
        }
        return format_html_join(
            mark_safe("<br>"),
            "{}: {}",
            ((label, "set" if getattr(obj, name) else "not set") for name, label in labels.items()),
        )


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """Read-only: raw events are evidence (replay, audit), kept WEBHOOK_EVENT_RETENTION_DAYS."""

    list_display = ["received_at", "channel", "event_type", "idempotency_key", "request_id"]
    list_filter = ["event_type", "channel__kind"]
    search_fields = ["idempotency_key", "request_id"]
    list_select_related = ["channel"]
    date_hierarchy = "received_at"
    fields = [
        "workspace",
        "channel",
        "event_type",
        "idempotency_key",
        "request_id",
        "received_at",
        "body_size",
    ]
    readonly_fields = fields
    show_full_result_count = False

    def get_queryset(self, request):
        # The list never loads the raw bodies (up to 3 MB each).
        return super().get_queryset(request).defer("body")

    @admin.display(description="Body")
    def body_size(self, obj: WebhookEvent) -> str:
        return f"{len(obj.body or b'')} bytes (kept for replay; not shown here)"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StatusReport)
class StatusReportAdmin(admin.ModelAdmin):
    list_display = [
        "provider_timestamp",
        "channel",
        "provider_message_id",
        "status",
        "error_code",
        "applied_at",
    ]
    list_filter = ["status", ("applied_at", admin.EmptyFieldListFilter)]
    search_fields = ["provider_message_id"]
    list_select_related = ["channel"]
    readonly_fields = [field.name for field in StatusReport._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
