from django.urls import include, path

from tests.ops import views

urlpatterns = [
    path("", include("chatdesk.ops.urls")),
    path("test/log", views.log_everything),
    path("test/fail", views.fail_with_secret),
    path("test/async", views.async_request_id),
]
