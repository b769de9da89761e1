from django.views.generic import TemplateView

from chatdesk.tenancy.mixins import WorkspaceViewMixin


class IndexView(WorkspaceViewMixin, TemplateView):
    template_name = "inbox/index.html"
