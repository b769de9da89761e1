"""Settings > Team and Settings > Integrations, for admins and owners (agents get 403).

Thin: rules live in `services.py` (team, credentials) and `webhook_probe.py` (test events).
Every action is a plain form POST that works without JavaScript; on Integrations, htmx swaps
just the channel's card. Secrets are never rendered: credential inputs are write-only, and the
verify token appears only in the response to an explicit (audited) reveal, which is rendered
directly, never stored in the session's flash messages.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import RedirectView, TemplateView

from chatdesk.audit.services import audit_actor
from chatdesk.messaging.models import Channel, ChannelKind
from chatdesk.messaging.selectors import channel_webhook_url
from chatdesk.tenancy.forms import InvitationForm
from chatdesk.tenancy.mixins import WorkspaceViewMixin
from chatdesk.tenancy.models import Role
from chatdesk.tenancy.selectors import invitation_list_pending, membership_list
from chatdesk.tenancy.views import invitation_invite, invitation_withdraw
from chatdesk.workspace_settings.forms import (
    ChannelActiveForm,
    ChannelCredentialsForm,
    RoleChangeForm,
)
from chatdesk.workspace_settings.selectors import channel_get, channel_list
from chatdesk.workspace_settings.services import (
    CREDENTIAL_FIELDS,
    TeamRuleError,
    channel_active_set,
    channel_credentials_update,
    channel_rotation_finish,
    channel_verify_token_reveal,
    credential_label_in_sentence,
    membership_remove,
    membership_role_change,
)
from chatdesk.workspace_settings.webhook_probe import ProbeResult, channel_test_event_send

logger = logging.getLogger(__name__)

# A signature failure this recent is flagged on the channel's card.
RECENT_FAILURE = timedelta(days=7)


class SettingsMixin(WorkspaceViewMixin):
    required_role = Role.ADMIN
    section = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["section"] = self.section
        return context


class SettingsIndexView(SettingsMixin, RedirectView):
    def get_redirect_url(self, *args, **kwargs):
        return reverse("workspace_settings:team", kwargs={"workspace_slug": self.workspace.slug})


# --- Team -------------------------------------------------------------------------------------


class TeamSettingsView(SettingsMixin, TemplateView):
    template_name = "workspace_settings/team.html"
    section = "team"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        members = list(membership_list(workspace=self.workspace).order_by("created_at", "pk"))
        owners = sum(1 for m in members if m.role == Role.OWNER)
        by_rank = self.membership.has_role
        for member in members:
            member.is_self = member.pk == self.membership.pk
            member.is_last_owner = member.role == Role.OWNER and owners == 1
            member.can_manage = by_rank(member.role)
            member.role_form = RoleChangeForm(initial={"role": member.role}, by=self.membership)
        invitations = list(invitation_list_pending(workspace=self.workspace))
        for invitation in invitations:
            invitation.can_revoke = by_rank(invitation.role)
        context.update(members=members, invitations=invitations)
        context.setdefault("form", InvitationForm(membership=self.membership))
        return context

    def render_error(self, message: str, status: int = 400, **context):
        return self.render_to_response(
            self.get_context_data(error=message, **context), status=status
        )

    def back(self):
        return redirect("workspace_settings:team", workspace_slug=self.workspace.slug)


class TeamInviteView(TeamSettingsView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = InvitationForm(request.POST, membership=self.membership)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form), status=400)
        invitation_invite(request, workspace=self.workspace, form=form)
        return self.back()


class TeamInvitationRevokeView(TeamSettingsView):
    http_method_names = ["post"]

    def post(self, request, *args, invitation_id: int, **kwargs):
        invitation_withdraw(
            request,
            workspace=self.workspace,
            membership=self.membership,
            invitation_id=invitation_id,
        )
        return self.back()


class MemberRoleView(TeamSettingsView):
    http_method_names = ["post"]

    def post(self, request, *args, membership_id: int, **kwargs):
        member = get_object_or_404(membership_list(workspace=self.workspace), pk=membership_id)
        form = RoleChangeForm(request.POST, by=self.membership)
        if not form.is_valid():
            return self.render_error(f"Choose a valid role for {member.user.email}.")
        try:
            member = membership_role_change(
                membership=member,
                role=form.cleaned_data["role"],
                by=self.membership,
                actor=audit_actor(request),
            )
        except TeamRuleError as error:
            return self.render_error(str(error))
        messages.success(request, f"{member.user.email} is now {member.get_role_display()}.")
        if member.pk == self.membership.pk and not member.has_role(Role.ADMIN):
            # You made yourself an agent: Settings is no longer yours to see.
            return redirect("tenancy:team", workspace_slug=self.workspace.slug)
        return self.back()


class MemberRemoveView(TeamSettingsView):
    http_method_names = ["post"]

    def post(self, request, *args, membership_id: int, **kwargs):
        member = get_object_or_404(membership_list(workspace=self.workspace), pk=membership_id)
        try:
            result = membership_remove(
                membership=member, by=self.membership, actor=audit_actor(request)
            )
        except TeamRuleError as error:
            return self.render_error(str(error))
        if member.pk == self.membership.pk:
            messages.success(request, f"You left {self.workspace.name}.")
            return redirect("tenancy:home")
        note = ""
        if result.conversations_unassigned or result.contacts_released:
            note = (
                f" {result.conversations_unassigned} conversation(s) and "
                f"{result.contacts_released} contact(s) are now unassigned."
            )
        messages.success(request, f"{result.email} was removed from the workspace.{note}")
        return self.back()


# --- Integrations -----------------------------------------------------------------------------


@dataclass
class ChannelCard:
    """Everything one channel's card shows. Secrets appear only as "set" / "not set", except a
    verify token an admin has just revealed."""

    channel: Channel
    webhook_url: str
    credentials: list[tuple[str, bool]]
    rotation_in_progress: bool
    signature_failure_recent: bool
    form: ChannelCredentialsForm
    verify_token: str | None = None
    probe: ProbeResult | None = None
    notice: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def is_meta(self) -> bool:
        return self.channel.kind == ChannelKind.META

    @property
    def is_https(self) -> bool:
        return self.webhook_url.startswith("https://")


def channel_card(channel: Channel, **extra) -> ChannelCard:
    failure = channel.last_signature_failure_at
    extra.setdefault("form", ChannelCredentialsForm(channel=channel))
    return ChannelCard(
        channel=channel,
        webhook_url=channel_webhook_url(channel=channel),
        credentials=[
            (label, bool(getattr(channel, name)))
            for name, label in CREDENTIAL_FIELDS[channel.kind].items()
        ],
        rotation_in_progress=bool(channel.previous_signing_secret),
        signature_failure_recent=failure is not None and timezone.now() - failure < RECENT_FAILURE,
        **extra,
    )


class IntegrationsView(SettingsMixin, TemplateView):
    template_name = "workspace_settings/integrations.html"
    section = "integrations"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        focus: ChannelCard | None = kwargs.get("card")
        cards = []
        for channel in channel_list(workspace=self.workspace):
            cards.append(
                focus if focus and focus.channel.pk == channel.pk else channel_card(channel)
            )
        context["cards"] = cards
        return context


class ChannelActionView(IntegrationsView):
    """A POST on one channel. Success: htmx gets the card back; a plain form a redirect with a
    flash message. Results that must not be stored (a revealed token) or that are failures are
    rendered directly: the card alone for htmx, the whole page otherwise."""

    http_method_names = ["post"]

    def channel(self, channel_id: int) -> Channel:
        channel = channel_get(workspace=self.workspace, channel_id=channel_id)
        if channel is None:
            raise Http404("No such channel in this workspace")
        return channel

    def show(self, card: ChannelCard, *, status: int = 200):
        if self.request.htmx:
            # 200 even for an error: htmx does not swap 4xx answers, and the card shows it.
            return self.response_class(
                request=self.request,
                template=f"{self.template_name}#card",
                context={"workspace": self.workspace, "card": card},
                using=self.template_engine,
            )
        return self.render_to_response(self.get_context_data(card=card), status=status)

    def done(self, channel: Channel, notice: str):
        if self.request.htmx:
            channel.refresh_from_db()
            return self.show(channel_card(channel, notice=notice))
        messages.success(self.request, notice)
        return redirect("workspace_settings:integrations", workspace_slug=self.workspace.slug)


class ChannelActiveView(ChannelActionView):
    def post(self, request, *args, channel_id: int, **kwargs):
        channel = self.channel(channel_id)
        form = ChannelActiveForm(request.POST)
        if not form.is_valid():
            return self.show(
                channel_card(channel, errors=["Choose active or inactive."]), status=400
            )
        channel = channel_active_set(
            channel=channel, active=form.cleaned_data["active"], actor=audit_actor(request)
        )
        state = (
            "active: its webhooks are accepted"
            if channel.is_active
            else "inactive: its webhooks are refused (404) and nothing is sent through it"
        )
        return self.done(channel, f"{channel} is {state}.")


class ChannelCredentialsView(ChannelActionView):
    def post(self, request, *args, channel_id: int, **kwargs):
        channel = self.channel(channel_id)
        form = ChannelCredentialsForm(request.POST, channel=channel)
        if not form.is_valid():
            # Re-rendered with errors but empty inputs: a submitted secret is not echoed either.
            return self.show(channel_card(channel, form=form), status=400)
        changed = channel_credentials_update(
            channel=channel, values=form.values(), actor=audit_actor(request)
        )
        labels = CREDENTIAL_FIELDS[channel.kind]
        if not changed:
            return self.done(channel, "Nothing changed: the values entered are the stored ones.")
        notice = (
            "Updated: "
            + ", ".join(credential_label_in_sentence(labels[name]) for name in changed)
            + "."
        )
        if "signing_secret" in changed:
            secret = credential_label_in_sentence(labels["signing_secret"])
            notice += (
                f" Deliveries signed with the previous {secret} are still accepted until you "
                "finish the rotation."
            )
        return self.done(channel, notice)


class ChannelRotationFinishView(ChannelActionView):
    def post(self, request, *args, channel_id: int, **kwargs):
        channel = self.channel(channel_id)
        secret = credential_label_in_sentence(CREDENTIAL_FIELDS[channel.kind]["signing_secret"])
        if channel_rotation_finish(channel=channel, actor=audit_actor(request)):
            return self.done(
                channel, f"Rotation finished: only the new {secret} is accepted from now on."
            )
        return self.done(channel, "No rotation was in progress.")


class ChannelVerifyTokenView(ChannelActionView):
    def post(self, request, *args, channel_id: int, **kwargs):
        channel = self.channel(channel_id)
        if channel.kind != ChannelKind.META:
            raise Http404("Only Meta channels have a verify token")
        token = channel_verify_token_reveal(channel=channel, actor=audit_actor(request))
        card = channel_card(channel, verify_token=token)
        if not token:
            card.errors.append("No verify token is set: enter one under credentials.")
        response = self.show(card)
        response["Cache-Control"] = "no-store"
        return response


class ChannelTestEventView(ChannelActionView):
    def post(self, request, *args, channel_id: int, **kwargs):
        channel = self.channel(channel_id)
        if not channel.is_active:
            card = channel_card(
                channel,
                errors=[
                    "This channel is inactive, so its webhook URL answers 404. Activate it to "
                    "send a test event."
                ],
            )
            return self.show(card, status=409)
        probe = channel_test_event_send(channel=channel, actor=audit_actor(request))
        channel.refresh_from_db()
        return self.show(channel_card(channel, probe=probe))
