"""Admin for contacts, conversations and messages: for operators, mostly read-only.

Messages are the customers' words and our replies as they happened: nothing here edits them.
The one action is retrying the download of an attachment that failed.
"""

from __future__ import annotations

from django.contrib import admin, messages

from chatdesk.crm.models import Contact, Conversation, MediaState, Message


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["phone", "name", "workspace", "created_at"]
    search_fields = ["phone", "wa_id", "name"]
    list_select_related = ["workspace"]
    readonly_fields = ["workspace", "wa_id", "phone", "created_at", "updated_at"]
    fields = ["workspace", "wa_id", "phone", "name", "created_at", "updated_at"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # contacts come from WhatsApp (and, later, imports)


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "contact",
        "channel",
        "workspace",
        "status",
        "needs_human",
        "needs_template",
        "last_message_at",
        "last_inbound_at",
    ]
    list_filter = ["status", "needs_human", "needs_template"]
    search_fields = ["contact__phone", "contact__name"]
    list_select_related = ["contact", "channel", "workspace"]
    readonly_fields = [
        "workspace",
        "channel",
        "contact",
        "last_message_at",
        "last_inbound_at",
        "created_at",
    ]
    fields = [
        "workspace",
        "channel",
        "contact",
        "status",
        "assignee",
        "needs_human",
        "needs_template",
        "last_message_at",
        "last_inbound_at",
        "created_at",
    ]
    raw_id_fields = ["assignee"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "provider_timestamp",
        "direction",
        "author",
        "type",
        "short_text",
        "status",
        "media_state",
        "processed_at",
        "conversation",
    ]
    list_filter = ["direction", "status", "type", "media_state", "unsupported"]
    search_fields = ["provider_message_id"]
    list_select_related = ["conversation"]
    date_hierarchy = "provider_timestamp"
    readonly_fields = [field.name for field in Message._meta.fields]
    actions = ["retry_media"]
    show_full_result_count = False

    @admin.display(description="Text")
    def short_text(self, obj: Message) -> str:
        return obj.text if len(obj.text) <= 80 else f"{obj.text[:79]}…"

    @admin.action(description="Retry downloading the failed attachments")
    def retry_media(self, request, queryset):
        from chatdesk.messaging.media import message_media_retry

        retried = 0
        for message in queryset.filter(media_state=MediaState.FAILED):
            message_media_retry(message=message)
            retried += 1
        skipped = queryset.count() - retried
        note = f" {skipped} had no failed attachment." if skipped else ""
        self.message_user(
            request, f"{retried} attachment download(s) queued again.{note}", messages.SUCCESS
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
