"""Versioned assistant configuration: defaults, validation, confirmation, audit."""

from __future__ import annotations

import pytest

from chatdesk.assistant.conf import AssistantSettings
from chatdesk.assistant.configuration import (
    AssistantConfigError,
    ConfirmationRequiredError,
    assistant_config_current,
    assistant_config_update,
)
from chatdesk.assistant.models import AssistantConfig, AssistantMode
from chatdesk.audit.models import AuditAction, AuditEvent
from chatdesk.audit.services import AuditActor
from tests.assistant.helpers import ACTOR
from tests.factories import make_workspace
from tests.tenancy.factories import world_make

pytestmark = pytest.mark.django_db


def test_a_new_workspace_starts_in_review_all_with_the_documented_defaults():
    config = assistant_config_current(workspace=make_workspace())
    assert (config.version, config.mode, config.threshold, config.temperature) == (
        1,
        AssistantMode.REVIEW_ALL,
        0.70,
        0.1,
    )
    assert config.max_reply_chars == 300 and not config.kill_switch and config.is_active
    assert set(config.forbidden_topics) >= {"pricing", "refunds", "scholarships"}
    settings = config.to_settings()
    assert isinstance(settings, AssistantSettings) and settings.threshold == 0.70
    assert assistant_config_current(workspace=config.workspace).pk == config.pk


def test_each_change_is_a_new_audited_version_and_old_versions_stay():
    world = world_make("cfg")
    actor = AuditActor(user=world.admin)
    v2 = assistant_config_update(
        workspace=world.workspace, actor=actor, threshold=0.8, persona="Warm and brief"
    )
    v3 = assistant_config_update(
        workspace=world.workspace, actor=actor, allowed_topics="contact, visa"
    )
    assert (v2.version, v3.version) == (2, 3)
    assert (v3.threshold, v3.persona, v3.allowed_topics) == (
        0.8,
        "Warm and brief",
        ["contact", "visa"],
    )
    assert v3.created_by == world.admin
    assert AssistantConfig.objects.for_workspace(world.workspace).count() == 3
    event = AuditEvent.objects.for_workspace(world.workspace).filter(target_id=str(v2.pk)).get()
    assert event.action == AuditAction.ASSISTANT_CONFIG_CHANGED and event.actor == world.admin
    assert event.details["fields"] == ["persona", "threshold"]
    assert event.details["threshold"] == {"from": 0.7, "to": 0.8}


@pytest.mark.parametrize("mode", ["sampled", "autonomous"])
def test_unsupervised_modes_need_explicit_confirmation(mode):
    workspace = make_workspace()
    with pytest.raises(ConfirmationRequiredError, match="confirm"):
        assistant_config_update(workspace=workspace, actor=ACTOR, mode=mode)
    assert assistant_config_current(workspace=workspace).mode == AssistantMode.REVIEW_ALL
    config = assistant_config_update(workspace=workspace, actor=ACTOR, mode=mode, confirmed=True)
    assert config.mode == mode
    # Staying in the mode (another change) does not ask again.
    assert assistant_config_update(workspace=workspace, actor=ACTOR, threshold=0.75).mode == mode


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"temperature": 0.5}, "temperature must be between 0 and 0.3"),
        ({"threshold": 1.5}, "threshold must be between 0 and 1"),
        ({"mode": "yolo"}, "mode must be one of"),
        ({"sample_every": 1}, "sample_every must be a whole number from 2"),
        ({"max_reply_chars": 5}, "max_reply_chars must be a whole number from 20"),
        ({"kill_switch": "yes"}, "kill_switch must be true or false"),
        ({"business_hours": {"days": [7], "start": "8am"}}, "business_hours.days"),
        (
            {"business_hours": {"days": [0], "start": "17:00", "end": "08:00"}},
            "start must be before",
        ),
        ({"colour": "blue"}, "unknown setting: colour"),
    ],
)
def test_bad_values_are_refused_with_a_clear_error_and_no_new_version(changes, error):
    workspace = make_workspace()
    with pytest.raises(AssistantConfigError, match=error):
        assistant_config_update(workspace=workspace, actor=ACTOR, **changes)
    assert assistant_config_current(workspace=workspace).version == 1


def test_business_hours_and_kill_switch_are_stored_per_version():
    workspace = make_workspace()
    hours = {"days": [0, 1, 2, 3, 4], "start": "08:00", "end": "17:00"}
    config = assistant_config_update(
        workspace=workspace, actor=ACTOR, business_hours=hours, kill_switch=True
    )
    assert config.business_hours == hours and not config.is_active


def test_configurations_are_per_workspace():
    a, b = make_workspace(), make_workspace()
    assistant_config_update(workspace=a, actor=ACTOR, kill_switch=True)
    assert assistant_config_current(workspace=b).is_active
