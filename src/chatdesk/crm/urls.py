from django.urls import path

from chatdesk.crm import views

app_name = "crm"
urlpatterns = [
    path("", views.ContactListView.as_view(), name="contacts"),
]
