"""Assistant > Settings: the current configuration as a form, the kill switch, the history.

Saving creates the next version (`assistant_config_save`), applied from the next customer
message. Moving to sampled or autonomous mode renders a confirmation page first (with how the
team's reviews went so far); only a second POST carrying `confirm_mode` equal to the chosen mode
saves it. The kill switch is its own one-click form, effective at once.
"""

from __future__ import annotations

from django.conf import settings as django_settings
from django.contrib import messages
from django.shortcuts import redirect
from django.utils import timezone
from django.views.generic import TemplateView

from chatdesk.assistant.configuration import (
    AssistantConfigError,
    ConfirmationRequiredError,
    assistant_config_current,
)
from chatdesk.assistant.forms import AssistantSettingsForm, KillSwitchForm, label_for
from chatdesk.assistant.hours import hours_is_open, hours_next_opening, opening_text
from chatdesk.assistant.models import AssistantMode
from chatdesk.assistant.selectors import assistant_review_counts
from chatdesk.assistant.services import (
    assistant_config_history,
    assistant_config_save,
    assistant_kill_switch_set,
)
from chatdesk.audit.services import audit_actor
from chatdesk.tenancy.mixins import WorkspaceViewMixin
from chatdesk.tenancy.models import Role

CONFIRM_FIELD = "confirm_mode"


class AssistantAdminMixin(WorkspaceViewMixin):
    """Admins and owners only (agents 403, other workspaces 404, via the mixin)."""

    required_role = Role.ADMIN
    section = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["section"] = self.section
        return context


def _hours_zone_name(config) -> str:
    return (config.business_hours or {}).get("timezone") or django_settings.TIME_ZONE


def _hours_status(config) -> str:
    """ "Open now" / "Closed now; opens ..." for the business hours as saved."""
    hours = config.business_hours or {}
    if not hours:
        return "Always open."
    now = timezone.now()
    if hours_is_open(hours=hours, at=now):
        return "Open now."
    opening = hours_next_opening(hours=hours, at=now)
    return f"Closed now; opens {opening_text(when=opening)}." if opening else "Closed now."


def _history_rows(workspace) -> list[dict]:
    rows = []
    for version in assistant_config_history(workspace=workspace):
        rows.append(
            {
                "version": version,
                "changes": [(label_for(c.name), c) for c in version.changes],
            }
        )
    return rows


class AssistantSettingsView(AssistantAdminMixin, TemplateView):
    template_name = "assistant/settings.html"
    section = "settings"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        config = kwargs.get("config") or assistant_config_current(workspace=self.workspace)
        context.update(
            config=config,
            history=_history_rows(self.workspace),
            hours_zone=_hours_zone_name(config),
            hours_status=_hours_status(config),
        )
        context.setdefault("form", AssistantSettingsForm(config=config))
        return context

    def post(self, request, *args, **kwargs):
        config = assistant_config_current(workspace=self.workspace)
        form = AssistantSettingsForm(request.POST, config=config)
        if not form.is_valid():
            return self._invalid(form, config)
        mode = form.cleaned_data.get("mode")
        try:
            saved = assistant_config_save(
                workspace=self.workspace,
                actor=audit_actor(request),
                values=form.values(),
                base_version=form.cleaned_data.get("base_version"),
                confirmed=request.POST.get(CONFIRM_FIELD) == mode,
            )
        except ConfirmationRequiredError as error:
            return self._confirm(form, config, mode, error)
        except AssistantConfigError as error:
            form.add_service_errors(error.errors)
            return self._invalid(form, config)
        if saved is None:
            messages.info(request, "Nothing changed: the settings are as they were.")
        else:
            messages.success(
                request,
                f"Saved as version {saved.version}. It applies from the next customer message.",
            )
        return redirect("assistant:settings", workspace_slug=self.workspace.slug)

    def _invalid(self, form, config):
        context = self.get_context_data(form=form, config=config)
        return self.render_to_response(context, status=400)

    def _confirm(self, form, config, mode, error):
        """Nothing is saved yet: the page repeats the submitted form as hidden inputs."""
        counts = assistant_review_counts(workspace=self.workspace)
        posted = [
            (name, values)
            for name, values in self.request.POST.lists()
            if name not in ("csrfmiddlewaretoken", CONFIRM_FIELD)
        ]
        context = self.get_context_data(form=form, config=config)
        context.update(
            mode=AssistantMode(mode),
            is_sampled=mode == AssistantMode.SAMPLED,
            sample_every=form.cleaned_data.get("sample_every") or config.sample_every,
            counts=counts,
            posted=posted,
            reason=error.errors[0],
            confirm_field=CONFIRM_FIELD,
        )
        return self.response_class(
            request=self.request,
            template="assistant/settings_confirm.html",
            context=context,
            using=self.template_engine,
        )


class AssistantKillSwitchView(AssistantAdminMixin, TemplateView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = KillSwitchForm(request.POST)
        if not form.is_valid():
            messages.error(request, "The kill switch takes on or off.")
            return redirect("assistant:settings", workspace_slug=self.workspace.slug)
        on = form.cleaned_data["state"] == "on"
        changed = assistant_kill_switch_set(
            workspace=self.workspace, actor=audit_actor(request), on=on
        )
        if changed is None:
            messages.info(request, f"The kill switch was already {'on' if on else 'off'}.")
        elif on:
            messages.success(
                request,
                "Kill switch on: the assistant is off for every conversation from now on. "
                "Your team answers everything.",
            )
        else:
            messages.success(
                request, "Kill switch off: the assistant works again, in the mode set below."
            )
        return redirect("assistant:settings", workspace_slug=self.workspace.slug)
