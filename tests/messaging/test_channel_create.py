import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from chatdesk.messaging.models import Channel
from tests.factories import make_workspace

META_ENV = {
    "CHANNEL_APP_SECRET": "app-secret-value-123456",
    "CHANNEL_ACCESS_TOKEN": "EAAG-access-token-value-123456",
    "CHANNEL_VERIFY_TOKEN": "verify-token-value-123456",
}


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("channel-create", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def meta_env(monkeypatch):
    for name, value in META_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.mark.django_db
def test_channel_create_stores_encrypted_credentials_and_prints_the_webhook_url(meta_env, settings):
    settings.APP_BASE_URL = "https://crm.example.com"
    workspace = make_workspace("acme")
    output = run(
        "--workspace",
        "acme",
        "--kind",
        "meta",
        "--phone-number-id",
        "106540352242922",
        "--display-number",
        "+15550783881",
        "--json",
    )
    result = json.loads(output)
    channel = Channel.objects.for_workspace(workspace).get()
    assert result == {
        "channel_key": channel.channel_key,
        "webhook_url": f"https://crm.example.com/webhooks/whatsapp/{channel.channel_key}",
    }
    assert channel.signing_secret == META_ENV["CHANNEL_APP_SECRET"]
    assert channel.api_token == META_ENV["CHANNEL_ACCESS_TOKEN"]
    assert channel.verify_token == META_ENV["CHANNEL_VERIFY_TOKEN"]
    assert len(channel.channel_key) >= 32
    for secret in META_ENV.values():
        assert secret not in output


@pytest.mark.django_db
def test_kapso_channel_gets_a_kapso_webhook_url(monkeypatch):
    monkeypatch.setenv("CHANNEL_WEBHOOK_SECRET", "kapso-secret-123456")
    monkeypatch.setenv("CHANNEL_API_KEY", "kapso-api-key-123456")
    make_workspace("acme")
    output = run(
        "--workspace",
        "acme",
        "--kind",
        "kapso",
        "--phone-number-id",
        "123",
        "--display-number",
        "+6281",
        "--json",
    )
    assert "/webhooks/kapso/" in json.loads(output)["webhook_url"]


@pytest.mark.django_db
def test_missing_credentials_are_named_and_nothing_is_created(monkeypatch):
    monkeypatch.delenv("CHANNEL_APP_SECRET", raising=False)
    monkeypatch.setenv("CHANNEL_ACCESS_TOKEN", "x" * 20)
    monkeypatch.delenv("CHANNEL_VERIFY_TOKEN", raising=False)
    workspace = make_workspace("acme")
    with pytest.raises(CommandError, match="CHANNEL_APP_SECRET, CHANNEL_VERIFY_TOKEN"):
        run(
            "--workspace",
            "acme",
            "--kind",
            "meta",
            "--phone-number-id",
            "1",
            "--display-number",
            "+1",
        )
    assert not Channel.objects.for_workspace(workspace).exists()


@pytest.mark.django_db
def test_unknown_workspace_duplicate_number_and_bad_id_are_clear_errors(meta_env):
    make_workspace("acme")
    args = ["--kind", "meta", "--display-number", "+1"]
    with pytest.raises(CommandError, match="No workspace"):
        run("--workspace", "nope", "--phone-number-id", "1", *args)
    with pytest.raises(CommandError, match="numeric"):
        run("--workspace", "acme", "--phone-number-id", "abc", *args)
    run("--workspace", "acme", "--phone-number-id", "1", *args)
    with pytest.raises(CommandError, match="already exists"):
        run("--workspace", "acme", "--phone-number-id", "1", *args)
