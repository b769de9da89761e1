"""Assistant pages, mounted at /w/<workspace_slug>/assistant/.

Every pattern here is walked by the cross-workspace tests: sample arguments for each name live
in tests/assistant/tenant_url_samples.py.
"""

from django.urls import path

from chatdesk.assistant.views import knowledge as knowledge_views
from chatdesk.assistant.views import review as review_views
from chatdesk.assistant.views import sandbox as sandbox_views
from chatdesk.assistant.views import settings as settings_views

app_name = "assistant"

# Review queue and the thread's assistant panel (agents).
review_patterns: list = [
    path("review/", review_views.ReviewQueueView.as_view(), name="review"),
    path("drafts/<int:draft_id>/", review_views.DraftDetailView.as_view(), name="draft"),
    path(
        "drafts/<int:draft_id>/approve/", review_views.ApproveView.as_view(), name="draft-approve"
    ),
    path("drafts/<int:draft_id>/edit/", review_views.EditAndSendView.as_view(), name="draft-edit"),
    path("drafts/<int:draft_id>/reject/", review_views.RejectView.as_view(), name="draft-reject"),
    path(
        "drafts/<int:draft_id>/complaint/",
        review_views.ComplaintView.as_view(),
        name="draft-complaint",
    ),
    path(
        "conversations/<int:conversation_id>/panel/",
        review_views.ThreadPanelView.as_view(),
        name="thread-panel",
    ),
    path(
        "messages/<int:message_id>/draft/",
        review_views.MessageDraftView.as_view(),
        name="message-draft",
    ),
]

# Assistant settings, knowledge and sandbox (admins).

admin_patterns: list = [
    path("settings/", settings_views.AssistantSettingsView.as_view(), name="settings"),
    path(
        "settings/kill-switch/",
        settings_views.AssistantKillSwitchView.as_view(),
        name="settings-kill-switch",
    ),
    path("knowledge/", knowledge_views.KnowledgeListView.as_view(), name="knowledge"),
    path("knowledge/new/", knowledge_views.KnowledgeCreateView.as_view(), name="knowledge-create"),
    path(
        "knowledge/<int:entry_id>/",
        knowledge_views.KnowledgeEditView.as_view(),
        name="knowledge-edit",
    ),
    path(
        "knowledge/<int:entry_id>/enabled/",
        knowledge_views.KnowledgeEnabledView.as_view(),
        name="knowledge-enabled",
    ),
    path(
        "knowledge/<int:entry_id>/delete/",
        knowledge_views.KnowledgeDeleteView.as_view(),
        name="knowledge-delete",
    ),
    path(
        "knowledge/export/", knowledge_views.KnowledgeExportView.as_view(), name="knowledge-export"
    ),
    path(
        "knowledge/import/", knowledge_views.KnowledgeImportView.as_view(), name="knowledge-import"
    ),
    path("sandbox/", sandbox_views.SandboxView.as_view(), name="sandbox"),
]

urlpatterns = review_patterns + admin_patterns
