from __future__ import annotations

from django.db import models

from chatdesk.assistant.knowledge import Entry
from chatdesk.tenancy.scoping import WorkspaceScopedModel


class KnowledgeEntry(WorkspaceScopedModel):
    """An approved answer and the example questions it answers; the assistant says nothing else."""

    key = models.SlugField(max_length=64, help_text="Stable id used by YAML import/export")
    topic = models.CharField(max_length=80)
    answer = models.TextField()
    questions = models.JSONField(default=list, help_text="Example questions, any language")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="knowledge_unique_key")
        ]
        ordering = ["topic", "key"]

    def __str__(self) -> str:
        return self.key

    def to_entry(self) -> Entry:
        return Entry(
            key=self.key,
            topic=self.topic,
            answer=self.answer,
            questions=tuple(self.questions),
            enabled=self.enabled,
        )
