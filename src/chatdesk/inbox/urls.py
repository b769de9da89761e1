from django.urls import path

from chatdesk.inbox import views

app_name = "inbox"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("poll/", views.ListPollView.as_view(), name="list-poll"),
    path("<int:conversation_id>/", views.ThreadView.as_view(), name="thread"),
    path("<int:conversation_id>/poll/", views.ThreadPollView.as_view(), name="thread-poll"),
    path("<int:conversation_id>/reply/", views.ReplyView.as_view(), name="reply"),
    path("<int:conversation_id>/note/", views.NoteView.as_view(), name="note"),
    path("<int:conversation_id>/template/", views.TemplateSendView.as_view(), name="send-template"),
    path("<int:conversation_id>/assign/", views.AssignView.as_view(), name="assign"),
    path("<int:conversation_id>/labels/", views.LabelsView.as_view(), name="labels"),
    path("<int:conversation_id>/status/", views.StatusView.as_view(), name="status"),
    path("<int:conversation_id>/take-over/", views.TakeOverView.as_view(), name="take-over"),
    path("<int:conversation_id>/hand-back/", views.HandBackView.as_view(), name="hand-back"),
    path("<int:conversation_id>/escalate/", views.EscalateView.as_view(), name="escalate"),
    path(
        "<int:conversation_id>/media/<int:message_id>/",
        views.MediaView.as_view(),
        name="media",
    ),
    path(
        "<int:conversation_id>/media/<int:message_id>/retry/",
        views.MediaRetryView.as_view(),
        name="media-retry",
    ),
]
