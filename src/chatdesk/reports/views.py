"""The dashboard: one page of figures for the workspace, every member may see it."""

from __future__ import annotations

from datetime import timedelta

from django.views.generic import TemplateView

from chatdesk.reports.charts import Series, bar_chart
from chatdesk.reports.forms import RangeForm
from chatdesk.reports.selectors import DEFAULT_RANGE, RANGES, dashboard_get_cached
from chatdesk.tenancy.mixins import WorkspaceViewMixin

NOT_AVAILABLE = "n/a"


def percent_text(value: float | None) -> str:
    return NOT_AVAILABLE if value is None else f"{value * 100:.0f}%"


def duration_text(value: timedelta | None) -> str:
    """A short human duration: "45 s", "7 min 30 s", "2 h 5 min", "3 d 4 h"."""
    if value is None:
        return NOT_AVAILABLE
    seconds = round(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    for big, big_unit, small, small_unit in (
        (days, "d", hours, "h"),
        (hours, "h", minutes, "min"),
        (minutes, "min", seconds, "s"),
    ):
        if big:
            return f"{big} {big_unit}" + (f" {small} {small_unit}" if small else "")
    return f"{seconds} s"


class IndexView(WorkspaceViewMixin, TemplateView):
    template_name = "reports/index.html"

    def get(self, request, *args, **kwargs):
        form = RangeForm(request.GET)
        valid = form.is_valid()
        days = form.cleaned_data["days"] if valid else DEFAULT_RANGE
        figures = dashboard_get_cached(workspace=self.workspace, days=days)
        context = self.get_context_data(
            form=form,
            figures=figures,
            ranges=RANGES,
            assistant_share=percent_text(figures.assistant_share),
            escalation_rate=percent_text(figures.escalation_rate),
            median_first_response=duration_text(figures.median_first_response),
            leads_chart=bar_chart(
                slug="leads",
                title="New leads per day",
                unit="",
                days=figures.leads_per_day,
                series=[Series("leads", "New leads", "bar-a")],
            ),
            messages_chart=bar_chart(
                slug="messages",
                title="Messages per day",
                unit="messages",
                days=figures.messages_per_day,
                series=[Series("in", "Inbound", "bar-a"), Series("out", "Outbound", "bar-b")],
            ),
            breakdowns=[
                ("Escalations by reason", "Reason", figures.assistant.escalation_reasons),
                ("Guard blocks by check", "Check", figures.assistant.guard_blocks),
            ],
            assistant_chart=bar_chart(
                slug="assistant",
                title="Assistant drafts per day",
                unit="",
                days=figures.assistant.per_day,
                series=[
                    Series("drafts", "Drafts", "bar-a"),
                    Series("sent", "Sent", "bar-b"),
                    Series("escalated", "Escalated", "bar-c"),
                ],
            ),
        )
        return self.render_to_response(context, status=200 if valid else 400)
