from django.urls import path

from chatdesk.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
]
