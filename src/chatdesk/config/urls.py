from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

# The admin's own sign-in form would skip allauth's throttling, email verification and
# two-factor; admin visitors go through the account sign-in instead.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", include("chatdesk.ops.urls")),
    path("webhooks/", include("chatdesk.integrations.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("w/<slug:workspace_slug>/inbox/", include("chatdesk.inbox.urls")),
    path("w/<slug:workspace_slug>/contacts/", include("chatdesk.crm.urls")),
    path("w/<slug:workspace_slug>/dashboard/", include("chatdesk.reports.urls")),
    path("w/<slug:workspace_slug>/settings/", include("chatdesk.workspace_settings.urls")),
    path("w/<slug:workspace_slug>/assistant/", include("chatdesk.assistant.urls")),
    path("w/<slug:workspace_slug>/notifications/", include("chatdesk.notifications.urls")),
    path("", include("chatdesk.tenancy.urls")),
]

# Development-only routes are mounted only outside production; a test inspects the production
# URL map to prove none of them is reachable there.
if settings.APP_ENV != "production":
    urlpatterns.append(path("dev/", include("chatdesk.devtools.urls")))
