"""Demo data. Development only: refuses to run when APP_ENV=production.

The demo workspace shows the whole product: a WhatsApp channel the simulator plays, the example
education-agency knowledge base (so the assistant answers instead of escalating everything),
its assistant settings, and a few approved message templates for the composer's picker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from chatdesk.assistant.configuration import assistant_config_update
from chatdesk.assistant.knowledge import parse_knowledge_yaml
from chatdesk.assistant.models import AssistantConfig, AssistantMode
from chatdesk.assistant.services import knowledge_import_yaml
from chatdesk.audit.services import audit_system_actor
from chatdesk.messaging.models import Channel, ChannelKind, MessageTemplate, TemplateCategory
from chatdesk.messaging.services import channel_create
from chatdesk.tenancy.models import Role, Workspace
from chatdesk.tenancy.services import membership_create, workspace_create
from chatdesk.workspace_settings.template_services import message_template_create

DEMO_WORKSPACE_SLUG = "demo"
DEMO_WORKSPACE_NAME = "Demo Overseas Education"
DEMO_EMAIL = "demo@example.com"
# A published, development-only password: production refuses demo data altogether.
DEMO_PASSWORD = "chatdesk-demo"
# The demo's WhatsApp number, played by `chatdesk simulator --from-demo`. Published,
# development-only credentials: the simulator signs with them and the app verifies with them.
DEMO_CHANNEL_PHONE_NUMBER_ID = "100000000000042"
DEMO_CHANNEL_DISPLAY_NUMBER = "15550100042"
DEMO_CHANNEL_APP_SECRET = "demo-meta-app-secret-development-only"
DEMO_CHANNEL_ACCESS_TOKEN = "demo-meta-access-token-development-only"
DEMO_CHANNEL_VERIFY_TOKEN = "demo-meta-verify-token-development-only"
# The example knowledge base the assistant app ships (and `assistant-eval` reads), so the demo
# answers exactly what the documented example suite expects.
DEMO_KNOWLEDGE_BASE = (
    Path(__file__).resolve().parents[1] / "assistant" / "examples" / "education.yaml"
)
# (name, language, category, body): as an agency would have them approved at Meta.
DEMO_TEMPLATES = (
    (
        "follow_up",
        "id",
        TemplateCategory.UTILITY,
        "Halo {{1}}, kami menindaklanjuti pertanyaan Anda tentang kuliah di luar negeri. "
        "Apakah masih ada yang bisa kami bantu?",
    ),
    (
        "follow_up",
        "en_US",
        TemplateCategory.UTILITY,
        "Hi {{1}}, we are following up on your question about studying abroad. "
        "Is there anything else we can help you with?",
    ),
    (
        "consultation_reminder",
        "id",
        TemplateCategory.UTILITY,
        "Halo {{1}}, ini pengingat jadwal konsultasi Anda dengan konselor kami pada {{2}}. "
        "Balas pesan ini jika Anda perlu mengubah jadwal.",
    ),
)
SEED_ACTOR_LABEL = "chatdesk demo (seed)"


class DemoRefusedError(RuntimeError):
    pass


@dataclass(frozen=True)
class DemoLogin:
    workspace: Workspace
    email: str
    password: str
    channel: Channel


def _refuse_in_production() -> None:
    if settings.APP_ENV == "production":
        raise DemoRefusedError(
            "Demo data is development-only and is refused when APP_ENV=production. "
            "Create the real first workspace with `chatdesk create-workspace`."
        )


@transaction.atomic
def demo_seed() -> DemoLogin:
    """Create (or refresh) the demo workspace, its owner and its WhatsApp channel. Safe to run
    again."""
    _refuse_in_production()
    workspace = Workspace.objects.filter(slug=DEMO_WORKSPACE_SLUG).first()
    if workspace is None:
        workspace = workspace_create(
            name=DEMO_WORKSPACE_NAME, slug=DEMO_WORKSPACE_SLUG, is_demo=True
        )
    user_model = get_user_model()
    user = user_model.objects.filter(email__iexact=DEMO_EMAIL).first()
    if user is None:
        user = user_model.objects.create_user(
            username="demo", email=DEMO_EMAIL, password=DEMO_PASSWORD
        )
    else:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    EmailAddress.objects.update_or_create(
        user=user, email=DEMO_EMAIL, defaults={"verified": True, "primary": True}
    )
    membership_create(workspace=workspace, user=user, role=Role.OWNER)
    channel = _demo_channel_ensure(workspace=workspace)
    _demo_assistant_ensure(workspace=workspace)
    _demo_templates_ensure(workspace=workspace)
    return DemoLogin(workspace=workspace, email=DEMO_EMAIL, password=DEMO_PASSWORD, channel=channel)


def _demo_channel_ensure(*, workspace: Workspace) -> Channel:
    """The demo's Meta channel with the published credentials (reset to them if edited)."""
    channel = (
        Channel.objects.for_workspace(workspace)
        .filter(kind=ChannelKind.META, phone_number_id=DEMO_CHANNEL_PHONE_NUMBER_ID)
        .first()
    )
    if channel is None:
        return channel_create(
            workspace=workspace,
            kind=ChannelKind.META,
            name="Demo WhatsApp (simulator)",
            phone_number_id=DEMO_CHANNEL_PHONE_NUMBER_ID,
            display_number=DEMO_CHANNEL_DISPLAY_NUMBER,
            signing_secret=DEMO_CHANNEL_APP_SECRET,
            api_token=DEMO_CHANNEL_ACCESS_TOKEN,
            verify_token=DEMO_CHANNEL_VERIFY_TOKEN,
        )
    channel.signing_secret = DEMO_CHANNEL_APP_SECRET
    channel.previous_signing_secret = None
    channel.api_token = DEMO_CHANNEL_ACCESS_TOKEN
    channel.verify_token = DEMO_CHANNEL_VERIFY_TOKEN
    channel.is_active = True
    channel.save(
        update_fields=[
            "signing_secret",
            "previous_signing_secret",
            "api_token",
            "verify_token",
            "is_active",
        ]
    )
    return channel


def _demo_assistant_ensure(*, workspace: Workspace) -> None:
    """The example knowledge base, and its assistant settings unless they were set already.

    Entries are matched on their id, so a second run updates the example entries back to the
    shipped text and creates nothing; entries someone added in the demo are left alone.
    """
    text = DEMO_KNOWLEDGE_BASE.read_text(encoding="utf-8")
    knowledge_import_yaml(workspace=workspace, text=text)
    # Configured already (by an earlier seed, or by someone trying the settings page): a new
    # version on every run would bury their changes and grow the history for nothing. Only the
    # untouched default a first message creates on its own (version 1, nobody's) is replaced.
    versions = AssistantConfig.objects.for_workspace(workspace)
    if versions.exclude(version=1, created_by__isnull=True).exists():
        return
    settings_ = parse_knowledge_yaml(text).settings
    assistant_config_update(
        workspace=workspace,
        actor=audit_system_actor(SEED_ACTOR_LABEL),
        name=settings_.name,
        persona=settings_.persona,
        allowed_topics=list(settings_.allowed_topics),
        forbidden_topics=list(settings_.forbidden_topics),
        threshold=settings_.threshold,
        max_reply_chars=settings_.max_reply_chars,
        use_first_name=settings_.use_first_name,
        temperature=settings_.temperature,
        holding_message=settings_.holding_message,
        # As every new workspace starts: a human approves each draft until an admin decides.
        mode=AssistantMode.REVIEW_ALL,
    )


def _demo_templates_ensure(*, workspace: Workspace) -> None:
    """The approved templates the composer offers outside the 24-hour window; a template the
    demo user edited or disabled keeps their changes."""
    existing = set(MessageTemplate.objects.for_workspace(workspace).values_list("name", "language"))
    actor = audit_system_actor(SEED_ACTOR_LABEL)
    for name, language, category, body in DEMO_TEMPLATES:
        if (name, language) in existing:
            continue
        message_template_create(
            workspace=workspace,
            values={
                "name": name,
                "language": language,
                "category": category,
                "channel": None,
                "body": body,
            },
            actor=actor,
        )


def demo_channel_get() -> Channel | None:
    """The seeded demo channel, for `chatdesk simulator --from-demo`; None before seeding."""
    _refuse_in_production()
    workspace = Workspace.objects.filter(slug=DEMO_WORKSPACE_SLUG, is_demo=True).first()
    if workspace is None:
        return None
    return (
        Channel.objects.for_workspace(workspace)
        .filter(kind=ChannelKind.META, phone_number_id=DEMO_CHANNEL_PHONE_NUMBER_ID)
        .first()
    )
