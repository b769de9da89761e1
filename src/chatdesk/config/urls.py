from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("chatdesk.ops.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("", include("chatdesk.tenancy.urls")),
]

# Development-only routes are mounted only outside production; a test inspects the production
# URL map to prove none of them is reachable there.
if settings.APP_ENV != "production":
    urlpatterns.append(path("dev/", include("chatdesk.devtools.urls")))
