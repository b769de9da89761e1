from django.urls import path

from chatdesk.inbox import views

app_name = "inbox"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
]
