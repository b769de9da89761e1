"""Assistant > Sandbox: what the assistant would do with a message, sending nothing.

The message goes through `assistant_evaluate`, the function `chatdesk assistant-eval` runs each
case through, with what the worker would use: the current configuration version, the enabled
knowledge entries and the composer from the environment (the LLM when `LLM_*` is set). Nothing
is stored, sent or enqueued; the sandbox has no customer, so no phone number exists to leak.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.views.generic import TemplateView

from chatdesk.assistant.configuration import assistant_config_current
from chatdesk.assistant.decide import ANSWER
from chatdesk.assistant.evaluation import Evaluation, assistant_evaluate
from chatdesk.assistant.forms import SandboxForm
from chatdesk.assistant.guard import CHECKS
from chatdesk.assistant.knowledge import Entry
from chatdesk.assistant.llm import composer_from_settings
from chatdesk.assistant.respond import CONTEXT_TURNS
from chatdesk.assistant.selectors import knowledge_entries
from chatdesk.assistant.views.settings import AssistantAdminMixin

COMPOSER_LABELS = {
    "approved-answer": "Approved answer (no LLM configured)",
    "llm": "LLM",
}


@dataclass(frozen=True)
class SandboxResult:
    evaluation: Evaluation
    threshold: float
    sources: list[Entry]  # what the reply was composed from
    candidates: list[Entry]  # the ranked matches, best first (shown when escalating)
    composer_label: str

    @property
    def decision(self):
        return self.evaluation.decision

    @property
    def answered(self) -> bool:
        return self.decision.action == ANSWER

    @property
    def above_threshold(self) -> bool:
        return self.decision.score >= self.threshold

    @property
    def verdicts(self):
        """Every guard check in its fixed order (empty when no draft was written)."""
        order = {name: n for n, name in enumerate(CHECKS)}
        return sorted(self.decision.verdicts, key=lambda v: order.get(v.check, len(order)))


def _composer_label(name: str | None) -> str:
    if name is None:
        return "None: the scope gate escalated before any reply was written"
    label = COMPOSER_LABELS.get(name, name)
    if name == "llm" and settings.ENV.LLM_MODEL:
        label = f"LLM ({settings.ENV.LLM_MODEL})"
    return label


class SandboxView(AssistantAdminMixin, TemplateView):
    template_name = "assistant/sandbox.html"
    section = "sandbox"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        config = assistant_config_current(workspace=self.workspace)
        entries = knowledge_entries(workspace=self.workspace, enabled_only=True)
        context.update(config=config, entry_count=len(entries), entries=entries)
        context.setdefault("form", SandboxForm(max_turns=CONTEXT_TURNS))
        return context

    def post(self, request, *args, **kwargs):
        form = SandboxForm(request.POST, max_turns=CONTEXT_TURNS)
        context = self.get_context_data(form=form)
        status = 200
        if form.is_valid():
            context["result"] = self._evaluate(form.cleaned_data, context)
        else:
            status = 400
        if request.htmx:
            # 200 even for form errors: htmx does not swap 4xx answers.
            return self.response_class(
                request=request,
                template=f"{self.template_name}#outcome",
                context=context,
                using=self.template_engine,
            )
        return self.render_to_response(context, status=status)

    def _evaluate(self, data: dict, context: dict) -> SandboxResult:
        config, entries = context["config"], context["entries"]
        settings_ = config.to_settings()
        evaluation = assistant_evaluate(
            data["message"],
            history=data["history"],
            entries=entries,
            config=settings_,
            composer=composer_from_settings(),
            retriever=settings.ENV.ASSISTANT_RETRIEVER,
            customer_name=data["name"] or None,
        )
        by_key = {e.key: e for e in entries}
        decision = evaluation.decision
        return SandboxResult(
            evaluation=evaluation,
            threshold=settings_.threshold,
            sources=[by_key[k] for k in decision.sources if k in by_key],
            candidates=[by_key[k] for k in decision.matched if k in by_key],
            composer_label=_composer_label(evaluation.composer),
        )
