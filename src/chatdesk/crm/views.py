from django.views.generic import TemplateView

from chatdesk.tenancy.mixins import WorkspaceViewMixin


class ContactListView(WorkspaceViewMixin, TemplateView):
    template_name = "crm/contacts.html"
