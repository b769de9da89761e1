"""Notifications, mounted at /w/<workspace_slug>/notifications/ (samples for the cross-workspace
walk: tests/notifications/tenant_url_samples.py)."""

from django.urls import path

from chatdesk.notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.NotificationListView.as_view(), name="index"),
    path("read-all/", views.NotificationReadAllView.as_view(), name="read-all"),
    path("<int:notification_id>/read/", views.NotificationReadView.as_view(), name="read"),
]
