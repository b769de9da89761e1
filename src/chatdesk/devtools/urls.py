from django.urls import path

from chatdesk.devtools import views

app_name = "devtools"
urlpatterns = [
    path("", views.index, name="index"),
]
