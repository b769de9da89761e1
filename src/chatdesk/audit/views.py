"""The audit log page (Settings > Audit log), for admins and owners."""

from __future__ import annotations

from django.views.generic import TemplateView

from chatdesk.audit.forms import AuditFilterForm
from chatdesk.audit.selectors import audit_event_list
from chatdesk.tenancy.mixins import WorkspaceViewMixin
from chatdesk.tenancy.models import Role


class AuditLogView(WorkspaceViewMixin, TemplateView):
    required_role = Role.ADMIN
    template_name = "audit/log.html"

    def get(self, request, *args, **kwargs):
        form = AuditFilterForm(request.GET)
        if not form.is_valid():
            context = self.get_context_data(form=AuditFilterForm(), errors=form.errors)
            return self.render_to_response(context, status=400)
        page = audit_event_list(
            workspace=self.workspace,
            action=form.cleaned_data["action"],
            after=form.cleaned_data["after"],
        )
        context = self.get_context_data(
            form=form, page=page, action=form.cleaned_data["action"], section="audit"
        )
        if request.htmx and form.cleaned_data["after"] is not None:
            # "Older entries" appends the next rows in place of its own row.
            return self.response_class(
                request=request,
                template=f"{self.template_name}#rows",
                context=context,
                using=self.template_engine,
            )
        return self.render_to_response(context)
