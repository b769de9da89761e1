"""Assistant > Knowledge: the approved answers the assistant may give.

List (search, topic filter, pages), create, edit, enable/disable, delete (after a confirmation
page), YAML export, and YAML import in two steps: a preview of what would be created, updated or
left unchanged (or every error, with its location), then a confirmation that applies it all in
one transaction. Every write goes through `assistant/services.py` and is audited.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.generic import TemplateView

from chatdesk.assistant.configuration import assistant_config_current
from chatdesk.assistant.forms import KnowledgeEntryForm, KnowledgeFilterForm, KnowledgeImportForm
from chatdesk.assistant.knowledge import KnowledgeFormatError
from chatdesk.assistant.models import KnowledgeEntry
from chatdesk.assistant.services import (
    KnowledgeEntryError,
    KnowledgeImportChangedError,
    knowledge_entry_create,
    knowledge_entry_delete,
    knowledge_entry_enabled_set,
    knowledge_entry_list,
    knowledge_entry_update,
    knowledge_export_yaml,
    knowledge_import_apply,
    knowledge_import_preview,
    knowledge_topic_list,
)
from chatdesk.assistant.views.settings import AssistantAdminMixin
from chatdesk.audit.services import audit_actor

PAGE_SIZE = 50


class KnowledgeMixin(AssistantAdminMixin):
    section = "knowledge"

    def entry(self, entry_id: int) -> KnowledgeEntry:
        entry = KnowledgeEntry.objects.for_workspace(self.workspace).filter(pk=entry_id).first()
        if entry is None:
            raise Http404("No such knowledge entry in this workspace")
        return entry

    def back_to_list(self):
        return redirect("assistant:knowledge", workspace_slug=self.workspace.slug)


class KnowledgeListView(KnowledgeMixin, TemplateView):
    template_name = "assistant/knowledge.html"

    def get(self, request, *args, **kwargs):
        form = KnowledgeFilterForm(request.GET)
        if not form.is_valid():
            form = KnowledgeFilterForm()
            form.is_valid()
        search, topic = form.cleaned_data["q"].strip(), form.cleaned_data["topic"]
        entries = knowledge_entry_list(workspace=self.workspace, search=search, topic=topic)
        page = Paginator(entries, PAGE_SIZE).get_page(form.cleaned_data["page"] or 1)
        context = self.get_context_data(
            filter_form=form,
            search=search,
            topic=topic,
            page=page,
            topics=knowledge_topic_list(workspace=self.workspace),
        )
        if request.htmx and request.htmx.target == "knowledge-results":
            return self.response_class(
                request=request,
                template=f"{self.template_name}#results",
                context=context,
                using=self.template_engine,
            )
        return self.render_to_response(context)


class KnowledgeFormView(KnowledgeMixin, TemplateView):
    template_name = "assistant/knowledge_form.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["topics"] = knowledge_topic_list(workspace=self.workspace)
        return context

    def invalid(self, form, **context):
        return self.render_to_response(self.get_context_data(form=form, **context), status=400)


class KnowledgeCreateView(KnowledgeFormView):
    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=KnowledgeEntryForm()))

    def post(self, request, *args, **kwargs):
        form = KnowledgeEntryForm(request.POST)
        if not form.is_valid():
            return self.invalid(form)
        try:
            entry = knowledge_entry_create(
                workspace=self.workspace, actor=audit_actor(request), **form.values()
            )
        except KnowledgeEntryError as error:
            form.add_service_errors(error.errors)
            return self.invalid(form)
        messages.success(request, f"Entry {entry.key} created.")
        return self.back_to_list()


class KnowledgeEditView(KnowledgeFormView):
    def get(self, request, *args, entry_id: int, **kwargs):
        entry = self.entry(entry_id)
        context = self.get_context_data(form=KnowledgeEntryForm(entry=entry), entry=entry)
        return self.render_to_response(context)

    def post(self, request, *args, entry_id: int, **kwargs):
        entry = self.entry(entry_id)
        form = KnowledgeEntryForm(request.POST, entry=entry)
        if not form.is_valid():
            return self.invalid(form, entry=entry)
        try:
            changed = knowledge_entry_update(
                entry=entry, actor=audit_actor(request), **form.values()
            )
        except KnowledgeEntryError as error:
            form.add_service_errors(error.errors)
            return self.invalid(form, entry=entry)
        if changed:
            messages.success(request, f"Entry {entry.key} saved.")
        else:
            messages.info(request, f"Nothing changed in {entry.key}.")
        return self.back_to_list()


class KnowledgeEnabledView(KnowledgeMixin, TemplateView):
    """One click on the list: htmx swaps the row; without JavaScript, back to the list."""

    http_method_names = ["post"]
    template_name = "assistant/knowledge.html"

    def post(self, request, *args, entry_id: int, **kwargs):
        entry = self.entry(entry_id)
        enabled = request.POST.get("enabled")
        if enabled not in ("true", "false"):
            messages.error(request, "Choose enable or disable.")
            return self.back_to_list()
        knowledge_entry_enabled_set(
            entry=entry, actor=audit_actor(request), enabled=enabled == "true"
        )
        if request.htmx:
            return self.response_class(
                request=request,
                template=f"{self.template_name}#row",
                context={"workspace": self.workspace, "entry": entry},
                using=self.template_engine,
            )
        state = "enabled: the assistant may answer with it" if entry.enabled else "disabled"
        messages.success(request, f"Entry {entry.key} {state}.")
        return self.back_to_list()


class KnowledgeDeleteView(KnowledgeMixin, TemplateView):
    template_name = "assistant/knowledge_delete.html"

    def get(self, request, *args, entry_id: int, **kwargs):
        return self.render_to_response(self.get_context_data(entry=self.entry(entry_id)))

    def post(self, request, *args, entry_id: int, **kwargs):
        entry = self.entry(entry_id)
        key = entry.key
        knowledge_entry_delete(entry=entry, actor=audit_actor(request))
        messages.success(request, f"Entry {key} deleted.")
        return self.back_to_list()


class KnowledgeExportView(KnowledgeMixin, TemplateView):
    http_method_names = ["get"]

    def get(self, request, *args, **kwargs):
        config = assistant_config_current(workspace=self.workspace)
        text = knowledge_export_yaml(workspace=self.workspace, config=config)
        response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
        filename = f"{self.workspace.slug}-knowledge.yaml"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class KnowledgeImportView(KnowledgeMixin, TemplateView):
    """GET: the upload form. POST without `digest`: the preview. POST with the preview's
    `digest`: apply (the same text travels back in a hidden field)."""

    template_name = "assistant/knowledge_import.html"

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=KnowledgeImportForm()))

    def post(self, request, *args, **kwargs):
        form = KnowledgeImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        text, digest = form.cleaned_data["text"], form.cleaned_data["digest"]
        if not digest:
            return self._preview(text)
        try:
            result = knowledge_import_apply(
                workspace=self.workspace,
                actor=audit_actor(request),
                text=text,
                expected_digest=digest,
            )
        except KnowledgeFormatError:
            return self._preview(text)  # shows every error; nothing was applied
        except KnowledgeImportChangedError as changed:
            return self._preview(text, preview=changed.preview, notice=str(changed))
        messages.success(
            request,
            f"Import applied: {result.created} created, {result.updated} updated.",
        )
        return self.back_to_list()

    def _preview(self, text: str, *, preview=None, notice: str = ""):
        preview = preview or knowledge_import_preview(workspace=self.workspace, text=text)
        context = self.get_context_data(
            # The text stays in the form: fix an error in place and preview again.
            form=KnowledgeImportForm(initial={"text": text}),
            preview=preview,
            text=text,
            notice=notice,
        )
        return self.render_to_response(context, status=400 if preview.errors else 200)
