"""The team inbox: the conversation list, a thread, and the thread's actions.

One template (`inbox/inbox.html`) with named partials: a plain request gets the whole page, an
htmx request gets only the partial it swaps. Every form posts to a real URL and redirects back
(303) when JavaScript is off; with htmx the same URL answers the piece of page that changed.

Form errors answer 422 (Unprocessable Content) with the form and its messages; the page's
htmx config swaps 422 responses (htmx leaves other 4xx alone), so errors show inline either way.
Every thread action is open to every member, agents included (see inbox/services.py).
"""

from __future__ import annotations

import mimetypes
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django_htmx.http import trigger_client_event

from chatdesk.crm.models import (
    SERVICE_WINDOW,
    Conversation,
    ConversationStatus,
    Direction,
    MediaState,
    Message,
)
from chatdesk.inbox import display, selectors, services
from chatdesk.inbox.forms import (
    ASSIGNED_TABS,
    STATUS_TABS,
    AssignForm,
    ComposerForm,
    InboxFilterForm,
    LabelsForm,
    StatusForm,
    TemplatePicker,
    TemplateSendForm,
    filters_query,
    user_display_name,
)
from chatdesk.messaging.media import message_media_retry
from chatdesk.messaging.outbound import (
    SendRefusedError,
    TemplateParametersError,
    message_send_template,
    message_send_text,
)
from chatdesk.notifications.services import notification_assigned, notifications_escalated
from chatdesk.tenancy.mixins import WorkspaceViewMixin
from chatdesk.tenancy.models import Role

TEMPLATE = "inbox/inbox.html"
FORM_ERROR = 422
# New messages and ticks appear within this many seconds (see the poller's comment in TEMPLATE).
POLL_SECONDS = 4
# The composer warns when the 24-hour window closes within this.
CLOSING_SOON = timedelta(hours=2)

# Types a browser may show inline from our origin; anything else downloads, so an attachment
# can never run as a page of ours (an HTML or SVG file sent by a customer, say).
INLINE_MEDIA_TYPES = {
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "audio/ogg",
    "audio/mpeg",
    "audio/mp4",
    "audio/aac",
    "audio/amr",
    "video/mp4",
    "video/3gpp",
    "application/pdf",
}


class InboxMixin(WorkspaceViewMixin):
    _filter_form: InboxFilterForm | None = None
    _labels: list | None = None

    def labels(self) -> list:
        """The workspace's labels, loaded once for the filter and the panel."""
        if self._labels is None:
            self._labels = list(selectors.label_list(workspace=self.workspace))
        return self._labels

    def filter_form(self) -> InboxFilterForm:
        """The list's filters from the query string; thread URLs carry them so that the list
        beside a thread, and the page an action returns to, keep the agent's view."""
        if self._filter_form is None:
            self._filter_form = InboxFilterForm(self.request.GET or None, workspace=self.workspace)
        return self._filter_form

    def filter_qs(self) -> str:
        return filters_query(self.filter_form().filters())

    def filter_context(self) -> dict:
        filter_qs = self.filter_qs()
        return {"filter_qs": filter_qs, "filter_suffix": f"?{filter_qs}" if filter_qs else ""}

    def list_context(self, *, current_id: int | None = None) -> dict:
        """The conversation list, filtered by the query string (shared by every inbox page)."""
        form = self.filter_form()
        filters = form.filters()
        cursor = form.cursor_value()
        page = selectors.conversation_list(
            workspace=self.workspace, user=self.request.user, filters=filters, cursor=cursor
        )
        slug = self.workspace.slug
        index_url = reverse("inbox:index", kwargs={"workspace_slug": slug})
        poll_params = {"current": current_id} if current_id else {}
        filter_context = self.filter_context()
        display.conversations_prepare(
            page.items, workspace_slug=slug, suffix=filter_context["filter_suffix"]
        )
        return {
            "workspace": self.workspace,
            "filter_form": form,
            "channel_options": display.choices_of(form["channel"]),
            "label_filter_options": display.choices_of(form["label"], objects=self.labels()),
            "filters": filters,
            **filter_context,
            "conversations": page.items,
            "current_conversation_id": current_id,
            "is_first_page": cursor is None,
            "first_page_url": index_url + filter_context["filter_suffix"],
            "next_page_url": (
                f"{index_url}?{filters_query(filters, cursor=page.next_cursor.encode())}"
                if page.next_cursor
                else ""
            ),
            "status_tabs": [
                (label, f"{index_url}?{filters_query(filters, status=value)}", value)
                for value, label in STATUS_TABS
            ],
            "assigned_tabs": [
                (label, f"{index_url}?{filters_query(filters, assigned=value)}", value)
                for value, label in ASSIGNED_TABS
            ],
            "list_fingerprint": selectors.list_fingerprint(page.items),
            "list_poll_url": reverse("inbox:list-poll", kwargs={"workspace_slug": slug})
            + "?"
            + filters_query(filters, **poll_params),
            "poll_seconds": POLL_SECONDS,
        }


class IndexView(InboxMixin, View):
    def get(self, request, *args, **kwargs):
        context = self.list_context()
        status = 400 if context["filter_form"].errors else 200
        return render(request, TEMPLATE, context, status=status)


class ListPollView(InboxMixin, View):
    """The first page of the list again, or 204 when nothing on it changed."""

    def get(self, request, *args, **kwargs):
        # Only highlights a row: an id that is not in the list highlights nothing.
        raw = request.GET.get("current", "")
        context = self.list_context(current_id=int(raw) if raw.isdigit() else None)
        if context["filter_form"].errors or not context["is_first_page"]:
            return HttpResponseBadRequest("Reload the page: these filters are not valid.")
        if request.GET.get("v") == context["list_fingerprint"]:
            return HttpResponse(status=204)
        return render(request, f"{TEMPLATE}#conversation-list", context)


class ConversationMixin(InboxMixin):
    def get_conversation(self) -> Conversation:
        try:
            return selectors.conversation_get(
                workspace=self.workspace, conversation_id=self.kwargs["conversation_id"]
            )
        except Conversation.DoesNotExist:
            raise Http404("No such conversation") from None

    def thread_url(self, conversation: Conversation) -> str:
        url = reverse(
            "inbox:thread",
            kwargs={"workspace_slug": self.workspace.slug, "conversation_id": conversation.pk},
        )
        filter_qs = self.filter_qs()
        return f"{url}?{filter_qs}" if filter_qs else url

    def panel_context(self, conversation: Conversation, **overrides) -> dict:
        """The header and side panel: status, assignee, labels, assistant controls."""
        context = {
            "workspace": self.workspace,
            "conversation": conversation,
            "assign_form": AssignForm(
                workspace=self.workspace, initial={"assignee": conversation.assignee_id}
            ),
            "labels_form": LabelsForm(
                workspace=self.workspace,
                initial={"labels": [label.pk for label in conversation.labels.all()]},
            ),
            "status_choices": ConversationStatus.choices,
            "notice": "",
            **self.filter_context(),
            **overrides,
        }
        context["assignee_options"] = display.choices_of(context["assign_form"]["assignee"])
        context["label_options"] = display.choices_of(
            context["labels_form"]["labels"], objects=self.labels()
        )
        return context

    def composer_context(self, conversation: Conversation, composer: ComposerForm | None = None):
        window_open = conversation.window_open()
        closes_at = conversation.last_inbound_at + SERVICE_WINDOW if window_open else None
        return {
            "workspace": self.workspace,
            "conversation": conversation,
            "window_open": window_open,
            "window_closes_at": closes_at,
            "window_closing_soon": bool(closes_at and closes_at - timezone.now() < CLOSING_SOON),
            "composer": composer or ComposerForm(),
            **self.filter_context(),
        }

    def template_picker_context(
        self, conversation: Conversation, picker: TemplatePicker | None = None
    ) -> dict:
        """The approved-template picker, offered when free text cannot reach the customer
        (the 24-hour window is closed, or the provider said so: `needs_template`)."""
        if picker is None:
            if conversation.window_open() and not conversation.needs_template:
                return {"template_picker": None}
            templates = selectors.message_template_list(conversation=conversation)
            picker = TemplateSendForm(templates=templates).picker()
        slug = self.workspace.slug
        return {
            "template_picker": picker,
            "template_send_url": reverse(
                "inbox:send-template",
                kwargs={"workspace_slug": slug, "conversation_id": conversation.pk},
            ),
            "can_manage_templates": self.membership.has_role(Role.ADMIN),
            "templates_settings_url": reverse(
                "workspace_settings:templates", kwargs={"workspace_slug": slug}
            ),
        }

    def messages_context(
        self, conversation: Conversation, *, before: selectors.Cursor | None = None
    ) -> dict:
        page = selectors.message_page(conversation=conversation, before=before)
        self.messages_prepare(conversation, page.items)
        context = {
            "workspace": self.workspace,
            "conversation": conversation,
            # Not "messages": that name is the flash messages of base.html.
            "thread_messages": page.items,
            "older_cursor": page.next_cursor.encode() if page.next_cursor else "",
            "viewing_older": before is not None,
            "poll_url": "",
            "poll_seconds": POLL_SECONDS,
            **self.filter_context(),
        }
        if before is None:  # a page of older messages does not poll: new ones are not its own
            state = selectors.poll_state_for_thread(conversation=conversation, page=page.items)
            context["poll_url"] = self.poll_url(conversation, state)
        return context

    def messages_prepare(self, conversation: Conversation, messages) -> None:
        display.messages_prepare(
            messages, conversation=conversation, workspace_slug=self.workspace.slug
        )

    def poll_url(self, conversation: Conversation, state: selectors.PollState) -> str:
        url = reverse(
            "inbox:thread-poll",
            kwargs={"workspace_slug": self.workspace.slug, "conversation_id": conversation.pk},
        )
        return f"{url}?{urlencode({'after': state.after, 'known': state.encode_known()})}"

    def page(
        self,
        conversation: Conversation,
        *,
        status: int = 200,
        before: selectors.Cursor | None = None,
        composer: ComposerForm | None = None,
        template_picker: TemplatePicker | None = None,
        **panel_overrides,
    ):
        """The whole page: the list beside the thread."""
        context = {
            **self.list_context(current_id=conversation.pk),
            **self.messages_context(conversation, before=before),
            **self.composer_context(conversation, composer),
            **self.template_picker_context(conversation, template_picker),
            **self.panel_context(conversation, **panel_overrides),
        }
        return render(self.request, TEMPLATE, context, status=status)


class ThreadView(ConversationMixin, View):
    def get(self, request, *args, **kwargs):
        conversation = self.get_conversation()
        before, error = None, ""
        if raw := request.GET.get("before", ""):
            try:
                before = selectors.Cursor.decode(raw)
            except selectors.InvalidCursorError:
                error = "That link to older messages is not valid; showing the latest ones."
        if request.htmx and before is not None:
            # "Load older": only the older page, swapped in above the messages shown.
            context = self.messages_context(conversation, before=before)
            return render(request, f"{TEMPLATE}#older-page", context)
        services.conversation_mark_read(conversation=conversation)
        return self.page(
            conversation, before=before, status=400 if error else 200, thread_error=error
        )


class ThreadPollView(ConversationMixin, View):
    """New messages and changed ticks since the poll state in the query string; 204 if none."""

    def get(self, request, *args, **kwargs):
        conversation = self.get_conversation()
        try:
            state = selectors.PollState.decode(
                after=request.GET.get("after", ""), known=request.GET.get("known", "")
            )
        except selectors.InvalidCursorError:
            return HttpResponseBadRequest("Reload the page: the update link is not valid.")
        changes = selectors.thread_changes(conversation=conversation, state=state)
        if not changes.new and not changes.changed and changes.state == state:
            return HttpResponse(status=204)
        self.messages_prepare(conversation, [*changes.new, *changes.changed])
        if any(m.direction == Direction.INBOUND for m in changes.new):
            services.conversation_mark_read(conversation=conversation)  # seen as they arrive
        context = {
            "workspace": self.workspace,
            "conversation": conversation,
            "new_messages": changes.new,
            "changed_messages": changes.changed,
            "poll_url": self.poll_url(conversation, changes.state),
            "poll_seconds": POLL_SECONDS,
            **self.filter_context(),
        }
        return render(request, f"{TEMPLATE}#poll", context)


class ThreadActionView(ConversationMixin, View):
    """POST-only thread actions; success redirects (no JS) or re-renders a partial (htmx)."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        return self.act(self.get_conversation())

    def act(self, conversation: Conversation):
        raise NotImplementedError

    def panel_response(self, conversation: Conversation, *, notice: str, **forms):
        """The conversation's side panel (and header) after an action or with its errors."""
        status = FORM_ERROR if any(form.errors for form in forms.values()) else 200
        if not self.request.htmx:
            if status == 200:
                messages.success(self.request, notice)
                return redirect(self.thread_url(conversation), permanent=False)
            return self.page(conversation, status=status, **forms)
        context = self.panel_context(conversation, notice=notice if status == 200 else "", **forms)
        return render(self.request, f"{TEMPLATE}#panel-update", context, status=status)


class ComposerActionView(ThreadActionView):
    def composer_response(self, conversation: Conversation, form: ComposerForm):
        status = FORM_ERROR if form.errors else 200
        if not self.request.htmx:
            if status == 200:
                return redirect(self.thread_url(conversation))
            return self.page(conversation, status=status, composer=form)
        context = self.composer_context(conversation, form if form.errors else None)
        response = render(self.request, f"{TEMPLATE}#composer", context, status=status)
        if status == 200:
            trigger_client_event(response, "inbox:refresh")  # the poller shows it at once
        return response


class ReplyView(ComposerActionView):
    def act(self, conversation: Conversation):
        form = ComposerForm(self.request.POST)
        if form.is_valid():
            try:
                message_send_text(
                    conversation=conversation,
                    text=form.cleaned_data["text"],
                    sent_by=self.request.user,
                )
            except SendRefusedError as error:
                form.add_error("text", str(error))
        return self.composer_response(conversation, form)


class NoteView(ComposerActionView):
    def act(self, conversation: Conversation):
        form = ComposerForm(self.request.POST)
        if form.is_valid():
            try:
                services.conversation_note_add(
                    conversation=conversation,
                    text=form.cleaned_data["text"],
                    author_user=self.request.user,
                )
            except services.NoteRefusedError as error:
                form.add_error("text", str(error))
        return self.composer_response(conversation, form)


class TemplateSendView(ThreadActionView):
    """Send an approved template. `action=choose` only shows the chosen template's parameters
    and preview (the select's change with htmx, the "Preview" button without JavaScript)."""

    def act(self, conversation: Conversation):
        templates = selectors.message_template_list(conversation=conversation)
        form = TemplateSendForm(self.request.POST, templates=templates)
        if self.request.POST.get("action") == "choose":
            return self.picker_response(conversation, form.picker(show_errors=False))
        if form.is_valid():
            try:
                message_send_template(
                    conversation=conversation,
                    template_id=form.chosen.pk,
                    parameters=form.parameters(),
                    sent_by=self.request.user,
                )
            except TemplateParametersError as error:
                for n, reason in error.errors.items():
                    form.add_error(f"param_{n}", reason)
            except SendRefusedError as error:
                form.add_error("template", str(error))
        if form.errors:
            return self.picker_response(conversation, form.picker(), status=FORM_ERROR)
        notice = f"Template {form.chosen.name} sent."
        if not self.request.htmx:
            messages.success(self.request, notice)
            return redirect(self.thread_url(conversation))
        conversation = self.get_conversation()  # "needs a template" is cleared: a new header
        fresh = TemplateSendForm(templates=templates).picker(notice=notice)
        response = self.picker_response(conversation, fresh, head=True)
        trigger_client_event(response, "inbox:refresh")  # the poller shows the message at once
        return response

    def picker_response(
        self, conversation: Conversation, picker: TemplatePicker, *, status=200, head=False
    ):
        if not self.request.htmx:
            return self.page(conversation, status=status, template_picker=picker)
        context = {
            "workspace": self.workspace,
            "conversation": conversation,
            "refresh_head": head,
            **self.filter_context(),
            **self.template_picker_context(conversation, picker),
        }
        return render(self.request, f"{TEMPLATE}#template-picker", context, status=status)


class AssignView(ThreadActionView):
    def act(self, conversation: Conversation):
        form = AssignForm(self.request.POST, workspace=self.workspace)
        notice = ""
        if form.is_valid():
            assignee = form.cleaned_data["assignee"]
            previous_id = conversation.assignee_id
            services.conversation_assign(conversation=conversation, assignee=assignee)
            if assignee is not None and assignee.pk != previous_id:
                notification_assigned(
                    conversation=conversation, assignee=assignee, by=self.request.user
                )
            notice = f"Assigned to {user_display_name(assignee)}." if assignee else "Unassigned."
        return self.panel_response(conversation, notice=notice, assign_form=form)


class LabelsView(ThreadActionView):
    def act(self, conversation: Conversation):
        form = LabelsForm(self.request.POST, workspace=self.workspace)
        notice = ""
        if form.is_valid():
            services.conversation_labels_set(
                conversation=conversation, labels=form.cleaned_data["labels"]
            )
            # The prefetched labels are stale now: load them again for the page.
            conversation = self.get_conversation()
            notice = "Labels saved."
        return self.panel_response(conversation, notice=notice, labels_form=form)


class StatusView(ThreadActionView):
    def act(self, conversation: Conversation):
        form = StatusForm(self.request.POST)
        notice = ""
        if form.is_valid():
            services.conversation_status_set(
                conversation=conversation, status=form.cleaned_data["status"]
            )
            notice = f"Marked {conversation.get_status_display().lower()}."
        return self.panel_response(conversation, notice=notice, status_form=form)


class TakeOverView(ThreadActionView):
    def act(self, conversation: Conversation):
        services.conversation_take_over(conversation=conversation)
        return self.panel_response(
            conversation, notice="You took over: the assistant will not reply here."
        )


class HandBackView(ThreadActionView):
    def act(self, conversation: Conversation):
        services.conversation_hand_back(conversation=conversation)
        return self.panel_response(
            conversation, notice="Handed back: the assistant may reply again."
        )


class EscalateView(ThreadActionView):
    def act(self, conversation: Conversation):
        services.conversation_escalate(conversation=conversation, by=self.request.user)
        notifications_escalated(conversation=conversation, by=self.request.user)
        return self.panel_response(conversation, notice="Escalated: flagged as needing a human.")


class MediaView(ConversationMixin, View):
    """An attachment, only to members of its workspace (media files are never public URLs)."""

    def get(self, request, *args, message_id: int, **kwargs):
        conversation = self.get_conversation()
        try:
            message = selectors.message_get(conversation=conversation, message_id=message_id)
        except Message.DoesNotExist:
            raise Http404("No such attachment") from None
        if message.media_state != MediaState.STORED or not message.media_file:
            raise Http404("This attachment is not stored")
        try:
            handle = message.media_file.open("rb")
        except FileNotFoundError:
            raise Http404("This attachment's file is missing") from None
        mime_type = (message.media_mime_type or "").split(";")[0].strip().lower()
        inline = mime_type in INLINE_MEDIA_TYPES
        extension = mimetypes.guess_extension(mime_type) or ".bin"
        response = FileResponse(
            handle,
            as_attachment=not inline,
            filename=f"{message.type}-{message.pk}{extension}",
            content_type=mime_type if inline else "application/octet-stream",
        )
        response["Content-Security-Policy"] = "sandbox; default-src 'none'"
        response["Cache-Control"] = "private, max-age=3600"
        return response


class MediaRetryView(ThreadActionView):
    def act(self, conversation: Conversation):
        try:
            message = selectors.message_get(
                conversation=conversation, message_id=self.kwargs["message_id"]
            )
        except Message.DoesNotExist:
            raise Http404("No such attachment") from None
        error = ""
        try:
            message_media_retry(message=message)
        except ValueError as exc:
            error = str(exc)
        if not self.request.htmx:
            if error:
                messages.error(self.request, error)
            else:
                messages.success(self.request, "Downloading the attachment again.")
            return redirect(self.thread_url(conversation))
        message.refresh_from_db()
        self.messages_prepare(conversation, [message])
        context = {
            "workspace": self.workspace,
            "conversation": conversation,
            "m": message,
            **self.filter_context(),
            "media_error_notice": error,
        }
        return render(
            self.request, f"{TEMPLATE}#message", context, status=FORM_ERROR if error else 200
        )
