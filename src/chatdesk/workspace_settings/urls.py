"""Settings pages, mounted at /w/<workspace_slug>/settings/ (admins and owners only).

Every pattern here is walked by the cross-workspace tests: sample arguments for each name live
in tests/workspace_settings/tenant_url_samples.py (and tests/audit/ for the audit log).
"""

from django.urls import path

from chatdesk.audit.views import AuditLogView
from chatdesk.workspace_settings import templates_views, views

app_name = "workspace_settings"
urlpatterns = [
    path("", views.SettingsIndexView.as_view(), name="index"),
    path("team/", views.TeamSettingsView.as_view(), name="team"),
    path("team/invitations/", views.TeamInviteView.as_view(), name="team-invite"),
    path(
        "team/invitations/<int:invitation_id>/revoke/",
        views.TeamInvitationRevokeView.as_view(),
        name="team-invitation-revoke",
    ),
    path(
        "team/members/<int:membership_id>/role/",
        views.MemberRoleView.as_view(),
        name="member-role",
    ),
    path(
        "team/members/<int:membership_id>/remove/",
        views.MemberRemoveView.as_view(),
        name="member-remove",
    ),
    path("integrations/", views.IntegrationsView.as_view(), name="integrations"),
    path(
        "integrations/<int:channel_id>/active/",
        views.ChannelActiveView.as_view(),
        name="channel-active",
    ),
    path(
        "integrations/<int:channel_id>/credentials/",
        views.ChannelCredentialsView.as_view(),
        name="channel-credentials",
    ),
    path(
        "integrations/<int:channel_id>/rotation/finish/",
        views.ChannelRotationFinishView.as_view(),
        name="channel-rotation-finish",
    ),
    path(
        "integrations/<int:channel_id>/verify-token/",
        views.ChannelVerifyTokenView.as_view(),
        name="channel-verify-token",
    ),
    path(
        "integrations/<int:channel_id>/test-event/",
        views.ChannelTestEventView.as_view(),
        name="channel-test-event",
    ),
    path("templates/", templates_views.TemplatesView.as_view(), name="templates"),
    path("templates/add/", templates_views.TemplateAddView.as_view(), name="template-add"),
    path(
        "templates/<int:template_id>/edit/",
        templates_views.TemplateEditView.as_view(),
        name="template-edit",
    ),
    path(
        "templates/<int:template_id>/enabled/",
        templates_views.TemplateEnabledView.as_view(),
        name="template-enabled",
    ),
    path(
        "templates/<int:template_id>/delete/",
        templates_views.TemplateDeleteView.as_view(),
        name="template-delete",
    ),
    path("audit/", AuditLogView.as_view(), name="audit"),
]
