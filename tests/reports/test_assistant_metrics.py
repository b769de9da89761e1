"""Assistant metrics: the reasons the real decision code writes land under the right codes, and
the dashboard shows the assistant's section."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from chatdesk.assistant.compose import ComposerError
from chatdesk.assistant.decide import assistant_decide
from chatdesk.assistant.knowledge import parse_knowledge_yaml
from chatdesk.assistant.models import DraftStatus
from chatdesk.reports.live import draft_counts_by_day
from chatdesk.reports.reasons import OTHER
from tests.crm.builders import contact_make, conversation_make
from tests.reports.builders import draft_make

pytestmark = pytest.mark.django_db

EXAMPLE_KB = Path(__file__).resolve().parents[2] / "src/chatdesk/assistant/examples/education.yaml"


@pytest.fixture(scope="module")
def education():
    return parse_knowledge_yaml(EXAMPLE_KB.read_text(encoding="utf-8"))


class ScriptedComposer:
    name = "scripted"

    def __init__(self, draft: str = "", error: Exception | None = None):
        self.draft, self.error = draft, error

    def compose(self, request):
        if self.error:
            raise self.error
        return self.draft


def conversation(world):
    return conversation_make(world.workspace, contact_make(world.workspace))


@pytest.mark.parametrize(
    ("message", "composer", "codes"),
    [
        ("Berapa biaya kuliah di Australia?", None, {"forbidden_topic", "low_confidence"}),
        ("asdf qwerty zxcv", None, {"no_match"}),
        ("What is the weather on Mars today?", None, {"low_confidence"}),
        ("What IELTS score do I need?", ScriptedComposer(error=ComposerError("timeout")),
         {"composer_failed"}),
        ("What IELTS score do I need?", ScriptedComposer("I think maybe IELTS 6.5, guaranteed."),
         {"guard"}),
        ("   ", None, {"empty_message"}),
    ],
)  # fmt: skip
def test_each_reason_the_assistant_writes_is_counted_under_its_code(
    world_a, education, message, composer, codes
):
    decision = assistant_decide(
        message, entries=education.entries, config=education.settings, composer=composer
    )
    now = timezone.now()
    draft_make(
        conversation(world_a),
        now,
        status=DraftStatus.ESCALATED,
        decision=decision.action,
        reasons=decision.reasons,
        verdicts=[
            {"check": v.check, "passed": v.passed, "reason": v.reason} for v in decision.verdicts
        ],
    )
    counts = draft_counts_by_day(workspace=world_a.workspace, days=[timezone.localdate(now)])
    (day_counts,) = counts.values()
    assert set(day_counts.escalation_reasons) == codes
    assert OTHER not in day_counts.escalation_reasons
    failed = {v.check for v in decision.verdicts if not v.passed}
    assert dict(day_counts.guard_blocks) == dict.fromkeys(failed, 1)


def test_respond_and_holding_reasons_are_classified(world_a):
    now = timezone.now()
    draft_make(
        conversation(world_a),
        now,
        status=DraftStatus.ESCALATED,
        reasons=["send refused: The 24-hour window is closed", "holding message not sent: x"],
    )
    draft_make(conversation(world_a), now, status=DraftStatus.ESCALATED, reasons=["a new reason"])
    (counts,) = draft_counts_by_day(
        workspace=world_a.workspace, days=[timezone.localdate(now)]
    ).values()
    assert dict(counts.escalation_reasons) == {"send_refused": 1, OTHER: 1}


def test_an_unknown_guard_check_is_reported_as_other(world_a):
    now = timezone.now()
    draft_make(
        conversation(world_a),
        now,
        status=DraftStatus.ESCALATED,
        reasons=["guard tone: too cheerful"],
        verdicts=[{"check": "tone", "passed": False, "reason": "too cheerful"}],
    )
    (counts,) = draft_counts_by_day(
        workspace=world_a.workspace, days=[timezone.localdate(now)]
    ).values()
    assert dict(counts.guard_blocks) == {OTHER: 1}


def test_metrics_of_one_workspace_ignore_another(world_a, world_b):
    now = timezone.now()
    draft_make(conversation(world_b), now, status=DraftStatus.ESCALATED, reasons=["empty message"])
    draft_make(conversation(world_b), now, status=DraftStatus.SENT)
    (counts,) = draft_counts_by_day(
        workspace=world_a.workspace, days=[timezone.localdate(now)]
    ).values()
    assert counts.drafts == 0 and not counts.escalation_reasons


def test_the_dashboard_shows_the_assistant_section(client, world_a):
    now = timezone.now()
    conv = conversation(world_a)
    draft_make(conv, now - timedelta(minutes=5), status=DraftStatus.SENT)
    draft_make(conv, now - timedelta(minutes=4), status=DraftStatus.SENT, reviewed=True)
    draft_make(
        conv,
        now - timedelta(minutes=3),
        status=DraftStatus.ESCALATED,
        decision="escalate",
        reasons=["guard uncertainty: hedges: 'maybe'"],
        verdicts=[{"check": "uncertainty", "passed": False, "reason": "hedges"}],
    )
    client.force_login(world_a.agent)
    html = client.get(f"/w/{world_a.workspace.slug}/dashboard/?days=7").content.decode()
    assert '<h2 id="assistant-h">Assistant</h2>' in html
    assert "sent: 1 on its own, 1 approved, 0 edited" in html
    assert "<caption>Escalations by reason</caption>" in html
    assert '<th scope="row">Blocked by the guard</th>' in html
    assert '<th scope="row">Uncertainty</th>' in html
    assert 'aria-labelledby="assistant-title assistant-desc"' in html  # the per-day chart


def test_without_drafts_the_section_says_so(client, world_a):
    client.force_login(world_a.agent)
    html = client.get(f"/w/{world_a.workspace.slug}/dashboard/").content.decode()
    assert "The assistant made no drafts in this range." in html
    assert "assistant-title" not in html


def test_a_complaint_flagged_on_an_older_draft_counts_at_once(world_a):
    from chatdesk.assistant.respond import (
        assistant_draft_complaint_flag,
        assistant_draft_complaint_unflag,
    )
    from chatdesk.reports.selectors import dashboard_get
    from chatdesk.reports.services import daily_rollups_rebuild

    today = timezone.localdate()
    draft = draft_make(conversation(world_a), timezone.now() - timedelta(days=3), status="sent")
    draft.refresh_from_db()
    daily_rollups_rebuild(
        workspace=world_a.workspace, first_day=today - timedelta(days=6), last_day=today
    )
    assert dashboard_get(workspace=world_a.workspace, days=7).assistant.complaints == 0
    assistant_draft_complaint_flag(draft=draft, user=world_a.agent, note="wrong date")
    figures = dashboard_get(workspace=world_a.workspace, days=7)
    assert figures.assistant.complaints == 1
    # That day is computed live until the job rebuilds it; the other six (today's rollup is
    # fresh) come from rollups.
    assert figures.rollup_days == 6
    daily_rollups_rebuild(workspace=world_a.workspace, first_day=today, last_day=today)
    assistant_draft_complaint_unflag(draft=draft, user=world_a.agent)
    assert dashboard_get(workspace=world_a.workspace, days=7).assistant.complaints == 0
