from django.urls import path

from chatdesk.tenancy import views

app_name = "tenancy"
urlpatterns = [
    path("", views.home, name="home"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path("w/<slug:workspace_slug>/", views.WorkspaceHomeView.as_view(), name="workspace-home"),
]
