from django.urls import path

from chatdesk.tenancy import views

app_name = "tenancy"
urlpatterns = [
    path("", views.home, name="home"),
    path("workspaces/", views.workspace_list, name="workspace-list"),
    path("invitations/<str:token>/", views.invitation_accept_view, name="invitation-accept"),
    # Every tenant page lives under /w/<workspace_slug>/ and uses WorkspaceViewMixin; the
    # cross-workspace test in tests/tenancy walks these patterns and needs sample kwargs for
    # each new one.
    path("w/<slug:workspace_slug>/", views.WorkspaceHomeView.as_view(), name="workspace-home"),
    path("w/<slug:workspace_slug>/team/", views.TeamView.as_view(), name="team"),
    path(
        "w/<slug:workspace_slug>/team/invitations/",
        views.InvitationCreateView.as_view(),
        name="invitation-create",
    ),
    path(
        "w/<slug:workspace_slug>/team/invitations/<int:invitation_id>/revoke/",
        views.InvitationRevokeView.as_view(),
        name="invitation-revoke",
    ),
]
