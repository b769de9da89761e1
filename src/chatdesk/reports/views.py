from django.views.generic import TemplateView

from chatdesk.tenancy.mixins import WorkspaceViewMixin


class IndexView(WorkspaceViewMixin, TemplateView):
    template_name = "reports/index.html"
