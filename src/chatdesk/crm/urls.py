from django.urls import path

from chatdesk.crm import views

app_name = "crm"
urlpatterns = [
    path("", views.ContactListView.as_view(), name="contacts"),
    path("new/", views.ContactFormView.as_view(), name="contact-create"),
    path("export.csv", views.ContactExportView.as_view(), name="contact-export"),
    path("import/", views.ContactImportView.as_view(), name="contact-import"),
    path(
        "import/confirm/", views.ContactImportConfirmView.as_view(), name="contact-import-confirm"
    ),
    path("<int:contact_id>/", views.ContactDetailView.as_view(), name="contact"),
    path("<int:contact_id>/edit/", views.ContactEditView.as_view(), name="contact-edit"),
    path("<int:contact_id>/status/", views.ContactStatusView.as_view(), name="contact-status"),
    path("<int:contact_id>/notes/", views.ContactNoteCreateView.as_view(), name="contact-notes"),
    path("<int:contact_id>/labels/", views.ContactLabelsView.as_view(), name="contact-labels"),
]
