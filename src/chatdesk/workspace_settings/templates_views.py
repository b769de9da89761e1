"""Settings > Templates: the approved WhatsApp message templates agents may send (admins only).

Thin: the rules live in `template_services.py` (audited writes) and `template_forms.py`. Every
action is a plain form POST that redirects back with a notice; a form with errors is shown
again with everything typed (400).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.views.generic import TemplateView

from chatdesk.audit.services import audit_actor
from chatdesk.messaging.models import MessageTemplate
from chatdesk.workspace_settings.template_forms import MessageTemplateForm
from chatdesk.workspace_settings.template_selectors import (
    message_template_get,
    message_template_list,
)
from chatdesk.workspace_settings.template_services import (
    TemplateRuleError,
    message_template_create,
    message_template_delete,
    message_template_enabled_set,
    message_template_update,
)
from chatdesk.workspace_settings.views import SettingsMixin


class TemplateEnabledForm(forms.Form):
    enabled = forms.TypedChoiceField(
        choices=[("true", "Enabled"), ("false", "Disabled")], coerce=lambda value: value == "true"
    )


class TemplatesView(SettingsMixin, TemplateView):
    template_name = "workspace_settings/message_templates.html"
    section = "templates"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["templates"] = list(message_template_list(workspace=self.workspace))
        context.setdefault("form", MessageTemplateForm(workspace=self.workspace))
        context.setdefault("editing", None)
        return context

    def message_template(self) -> MessageTemplate:
        template = message_template_get(
            workspace=self.workspace, template_id=self.kwargs["template_id"]
        )
        if template is None:
            raise Http404("No such template in this workspace")
        return template

    def back(self, notice: str):
        messages.success(self.request, notice)
        return redirect("workspace_settings:templates", workspace_slug=self.workspace.slug)

    def invalid(self, form: MessageTemplateForm, *, editing: MessageTemplate | None = None):
        context = self.get_context_data(form=form, editing=editing)
        return self.render_to_response(context, status=400)


class TemplateAddView(TemplatesView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = MessageTemplateForm(request.POST, workspace=self.workspace)
        if not form.is_valid():
            return self.invalid(form)
        try:
            template = message_template_create(
                workspace=self.workspace, values=form.cleaned_data, actor=audit_actor(request)
            )
        except TemplateRuleError as error:
            form.add_error("name", str(error))
            return self.invalid(form)
        return self.back(f"Template {template} added: agents can send it now.")


class TemplateEditView(TemplatesView):
    http_method_names = ["get", "post"]

    def get(self, request, *args, **kwargs):
        template = self.message_template()
        form = MessageTemplateForm(workspace=self.workspace, instance=template)
        return self.render_to_response(self.get_context_data(form=form, editing=template))

    def post(self, request, *args, **kwargs):
        template = self.message_template()
        form = MessageTemplateForm(request.POST, workspace=self.workspace, instance=template)
        if not form.is_valid():
            return self.invalid(form, editing=template)
        try:
            changed = message_template_update(
                template=template, values=form.cleaned_data, actor=audit_actor(request)
            )
        except TemplateRuleError as error:
            form.add_error("name", str(error))
            return self.invalid(form, editing=template)
        if not changed:
            return self.back(f"Nothing changed in {template}.")
        return self.back(f"Template {template} saved.")


class TemplateEnabledView(TemplatesView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        template = self.message_template()
        form = TemplateEnabledForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose enabled or disabled.")
            return redirect("workspace_settings:templates", workspace_slug=self.workspace.slug)
        template = message_template_enabled_set(
            template=template, enabled=form.cleaned_data["enabled"], actor=audit_actor(request)
        )
        if template.is_enabled:
            return self.back(f"Template {template} is enabled: agents can send it.")
        return self.back(f"Template {template} is disabled: agents no longer see it.")


class TemplateDeleteView(TemplatesView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        template = self.message_template()
        label = str(template)
        message_template_delete(template=template, actor=audit_actor(request))
        return self.back(f"Template {label} deleted. Messages already sent with it are kept.")
