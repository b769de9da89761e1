"""Human review of the assistant: the review queue, a draft's details, the thread's assistant
panel, and the actions (approve, edit and send, reject and take over, flag a complaint).

Every action is a plain form POST that redirects back (`next`, same workspace only) with a flash
message; with htmx the same URL answers the updated draft card (422 with the error and the
reviewer's text kept when it was refused). Agents and up may review (the default role of
WorkspaceViewMixin); the services lock the draft, so two reviewers never send twice.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django_htmx.http import trigger_client_event

from chatdesk.assistant import respond, selectors
from chatdesk.assistant.models import AssistantDraft, DraftStatus
from chatdesk.crm.models import Conversation
from chatdesk.tenancy.mixins import WorkspaceViewMixin

QUEUE_TEMPLATE = "assistant/review.html"
CARD = f"{QUEUE_TEMPLATE}#draft-card"
PANEL_TEMPLATE = "assistant/_thread_panel.html"
FORM_ERROR = 422
QUEUE_PAGE_SIZE = 25
PANEL_DRAFTS = 20


def decorate(workspace, drafts, *, with_context: bool = False) -> list[AssistantDraft]:
    """Attach what the card shows beyond the row: sources with their topics, and (queue and
    detail pages) the turns before the customer's message. Two queries, however many drafts."""
    drafts = list(drafts)
    topics = selectors.knowledge_topics(
        workspace=workspace, keys=[key for d in drafts for key in d.sources]
    )
    turns = (
        selectors.assistant_drafts_context(workspace=workspace, drafts=drafts)
        if with_context
        else {}
    )
    for draft in drafts:
        draft.source_rows = [(key, topics.get(key, "")) for key in draft.sources]
        draft.context_turns = turns.get(draft.pk, [])
    return drafts


class ReviewMixin(WorkspaceViewMixin):
    def get_draft(self) -> AssistantDraft:
        try:
            return selectors.assistant_draft_get(
                workspace=self.workspace, draft_id=self.kwargs["draft_id"]
            )
        except AssistantDraft.DoesNotExist:
            raise Http404("No such draft") from None

    def queue_url(self) -> str:
        return reverse("assistant:review", kwargs={"workspace_slug": self.workspace.slug})

    def back_url(self) -> str:
        """Where a plain form post returns: `next` when it is a page of this workspace."""
        target = self.request.POST.get("next") or self.request.GET.get("next") or ""
        if target.startswith(f"/w/{self.workspace.slug}/") and url_has_allowed_host_and_scheme(
            target, allowed_hosts={self.request.get_host()}
        ):
            return target
        return self.queue_url()


class ReviewQueueView(ReviewMixin, View):
    """Drafts waiting for a human, the longest-waiting customer first."""

    def get(self, request, *args, **kwargs):
        pending = selectors.assistant_pending_review_count(workspace=self.workspace)
        drafts = selectors.assistant_drafts_pending(workspace=self.workspace)[:QUEUE_PAGE_SIZE]
        return render(
            request,
            QUEUE_TEMPLATE,
            {
                "workspace": self.workspace,
                "drafts": decorate(self.workspace, drafts, with_context=True),
                "pending_total": pending,
                "page_size": QUEUE_PAGE_SIZE,
                "next_url": request.path,
                "show_context": True,
            },
        )


class DraftDetailView(ReviewMixin, View):
    def get(self, request, *args, **kwargs):
        [draft] = decorate(self.workspace, [self.get_draft()], with_context=True)
        return render(
            request,
            "assistant/review_draft.html",
            {
                "workspace": self.workspace,
                "draft": draft,
                "d": draft,
                "next_url": request.path,
                "show_context": True,
            },
        )


class MessageDraftView(ReviewMixin, View):
    """From an assistant message in a thread to the draft it came from."""

    def get(self, request, *args, message_id: int, **kwargs):
        draft_id = selectors.assistant_draft_for_message(
            workspace=self.workspace, message_id=message_id
        )
        if draft_id is None:
            raise Http404("This message has no assistant draft")
        return redirect("assistant:draft", workspace_slug=self.workspace.slug, draft_id=draft_id)


class ThreadPanelView(ReviewMixin, View):
    """The thread's assistant panel (fetched by htmx from the inbox; a page of its own without
    JavaScript)."""

    def get(self, request, *args, conversation_id: int, **kwargs):
        conversation = (
            Conversation.objects.for_workspace(self.workspace)
            .select_related("contact")
            .filter(pk=conversation_id)
            .first()
        )
        if conversation is None:
            raise Http404("No such conversation")
        drafts = selectors.assistant_drafts_for_conversation(
            conversation=conversation, limit=PANEL_DRAFTS
        )
        thread_url = reverse(
            "inbox:thread",
            kwargs={"workspace_slug": self.workspace.slug, "conversation_id": conversation.pk},
        )
        drafts = decorate(self.workspace, drafts)
        # The latest draft still waiting is what an agent must act on; else the latest one.
        featured = next((d for d in drafts if d.status == DraftStatus.PENDING_REVIEW), None)
        featured = featured or (drafts[0] if drafts else None)
        context = {
            "workspace": self.workspace,
            "conversation": conversation,
            "assistant_panel_loaded": True,
            "featured_draft": featured,
            "earlier_drafts": [d for d in drafts if d is not featured],
            "next_url": thread_url,
            "thread_url": thread_url,
            "compact": True,
        }
        if request.htmx:
            return render(request, PANEL_TEMPLATE, context)
        return render(request, "assistant/review_thread.html", context)


class DraftActionView(ReviewMixin, View):
    """POST-only; `act` returns the notice to show, or raises `respond.ReviewError`."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        draft = self.get_draft()
        try:
            notice = self.act(draft)
        except respond.ReviewError as error:
            return self.respond(draft, error=str(error))
        return self.respond(draft, notice=notice)

    def act(self, draft: AssistantDraft) -> str:
        raise NotImplementedError

    def respond(self, draft: AssistantDraft, *, notice: str = "", error: str = ""):
        if not self.request.htmx:
            if error:
                messages.error(self.request, error)
            else:
                messages.success(self.request, notice)
            return redirect(self.back_url())
        [draft] = decorate(self.workspace, [self.get_draft()], with_context=self.with_context())
        context = {
            "workspace": self.workspace,
            "d": draft,
            "notice": notice,
            "error": error,
            # A refused edit or note comes back as typed: nothing the reviewer wrote is lost.
            "edit_text": self.request.POST.get("text", "") if error else "",
            "note_text": self.request.POST.get("note", "") if error else "",
            "next_url": self.back_url(),
            "show_context": self.with_context(),
            "compact": self.request.POST.get("compact") == "1",
        }
        response = render(self.request, CARD, context, status=FORM_ERROR if error else 200)
        if not error:
            trigger_client_event(response, "inbox:refresh")  # the open thread shows the reply
        return response

    def with_context(self) -> bool:
        return self.request.POST.get("compact") != "1"


class ApproveView(DraftActionView):
    def act(self, draft):
        respond.assistant_draft_approve(draft=draft, reviewer=self.request.user)
        return "Approved: the reply is on its way to the customer."


class EditAndSendView(DraftActionView):
    def act(self, draft):
        respond.assistant_draft_edit_and_send(
            draft=draft, reviewer=self.request.user, text=self.request.POST.get("text", "")
        )
        return "Your edited reply is on its way to the customer."


class RejectView(DraftActionView):
    def act(self, draft):
        respond.assistant_draft_reject(draft=draft, reviewer=self.request.user)
        return "Rejected: nothing was sent, and the conversation is yours now (assistant paused)."


class ComplaintView(DraftActionView):
    def act(self, draft):
        if self.request.POST.get("action") == "unflag":
            respond.assistant_draft_complaint_unflag(draft=draft, user=self.request.user)
            return "Complaint flag removed."
        respond.assistant_draft_complaint_flag(
            draft=draft, user=self.request.user, note=self.request.POST.get("note", "")
        )
        return "Flagged as a complaint: it counts in the assistant's metrics."
