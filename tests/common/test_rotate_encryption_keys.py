from importlib import import_module
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from chatdesk.tenancy.services import workspace_create
from tests.common.rawsql import raw_column
from tests.support.models import ScopedSecretHolder, SecretHolder

pytestmark = pytest.mark.django_db

# Command modules are named like the command (hyphens), so they are imported by name.
command_module = import_module("chatdesk.common.management.commands.rotate-encryption-keys")

SECRET = "kapso-api-key-ñandú-🦤"


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate-encryption-keys", *args, stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    return {
        holder.pk: (
            raw_column(SecretHolder, "secret", holder.pk),
            raw_column(SecretHolder, "optional_secret", holder.pk),
        )
        for holder in SecretHolder.objects.only("pk")
    }


@pytest.fixture
def old_rows(keys, key_a):
    """Secrets written under key A (tests then make key B current, keeping A for reading)."""
    keys(key_a)
    return [
        SecretHolder.objects.create(secret=SECRET, optional_secret="second 🔐"),
        SecretHolder.objects.create(secret="plain", optional_secret=None),
        SecretHolder.objects.create(secret="", optional_secret=None),
    ]


def test_rotated_secrets_still_read_after_the_old_key_is_removed(old_rows, keys, key_a, key_b):
    keys(key_b, key_a)

    output = rotate()

    assert "test_support.SecretHolder.secret: 2 rotated, 0 already current, 1 empty" in output
    assert (
        "test_support.SecretHolder.optional_secret: 1 rotated, 0 already current, 2 empty" in output
    )
    keys(key_b)
    values = [(h.secret, h.optional_secret) for h in SecretHolder.objects.order_by("pk")]
    assert values == [(SECRET, "second 🔐"), ("plain", None), ("", None)]


def test_running_the_rotation_twice_finds_everything_current(old_rows, keys, key_a, key_b):
    keys(key_b, key_a)
    rotate()
    after_first = snapshot()

    output = rotate()

    assert "test_support.SecretHolder.secret: 0 rotated, 2 already current, 1 empty" in output
    assert snapshot() == after_first


def test_dry_run_counts_but_writes_nothing(old_rows, keys, key_a, key_b):
    keys(key_b, key_a)
    before = snapshot()

    output = rotate("--dry-run")

    assert "test_support.SecretHolder.secret: 2 to rotate, 0 already current, 1 empty" in output
    assert "Dry run: nothing was written." in output
    assert snapshot() == before
    keys(key_b)
    with pytest.raises(Exception, match="cannot decrypt"):
        SecretHolder.objects.get(pk=old_rows[0].pk)


def test_an_undecryptable_row_aborts_and_leaves_every_row_unchanged(old_rows, keys, key_a, key_b):
    # Written with a key nobody configured; created last, so the rows before it have already
    # been re-encrypted inside the transaction when the command reaches it.
    keys(Fernet.generate_key().decode())
    lost = SecretHolder.objects.create(secret="written with a forgotten key")
    keys(key_b, key_a)
    before = snapshot()

    with pytest.raises(CommandError) as caught:
        rotate("--batch-size", "1")

    message = str(caught.value)
    assert f"cannot decrypt test_support.SecretHolder.secret for pk={lost.pk}" in message
    assert "Nothing was written for test_support.SecretHolder" in message
    assert key_a not in message and key_b not in message
    assert snapshot() == before


def test_rows_are_rotated_across_batches(old_rows, keys, key_a, key_b):
    keys(key_b, key_a)

    output = rotate("--batch-size", "1")

    assert "test_support.SecretHolder.secret: 2 rotated" in output
    keys(key_b)
    assert [h.secret for h in SecretHolder.objects.order_by("pk")] == [SECRET, "plain", ""]


def test_null_and_empty_secrets_are_left_alone(old_rows, keys, key_a, key_b):
    keys(key_b, key_a)

    rotate()

    empty_row, null_rows = old_rows[2], old_rows[1:]
    assert raw_column(SecretHolder, "secret", empty_row.pk) == ""
    for row in null_rows:
        assert raw_column(SecretHolder, "optional_secret", row.pk) is None


def test_tenant_scoped_secrets_are_rotated_in_every_workspace(keys, key_a, key_b):
    keys(key_a)
    for slug in ("alpha", "beta"):
        workspace = workspace_create(name=slug.title(), slug=slug)
        ScopedSecretHolder.dangerously_unscoped_objects.create(
            workspace=workspace, secret=f"{slug} token"
        )
    keys(key_b, key_a)

    output = rotate()

    assert "test_support.ScopedSecretHolder.secret: 2 rotated" in output
    keys(key_b)
    secrets = ScopedSecretHolder.dangerously_unscoped_objects.order_by("pk")
    assert [holder.secret for holder in secrets] == ["alpha token", "beta token"]


def test_output_never_contains_a_secret_or_a_key(old_rows, keys, key_a, key_b):
    keys(key_b, key_a)

    output = rotate() + rotate("--dry-run")

    for leaked in (key_a, key_b, SECRET, "plain", "second"):
        assert leaked not in output


def test_a_secret_changed_by_the_application_during_rotation_is_not_overwritten(
    old_rows, keys, key_a, key_b, monkeypatch
):
    keys(key_b, key_a)
    target = old_rows[0]
    real_rotate_str = command_module.rotate_str
    old_token = raw_column(SecretHolder, "secret", target.pk)

    def rotate_while_the_app_writes(token):
        # The application saves a new secret right after the command read the old one.
        if token == old_token:
            SecretHolder.objects.filter(pk=target.pk).update(secret="changed meanwhile")
        return real_rotate_str(token)

    monkeypatch.setattr(command_module, "rotate_str", rotate_while_the_app_writes)

    rotate()

    keys(key_b)
    reloaded = SecretHolder.objects.get(pk=target.pk)
    assert (reloaded.secret, reloaded.optional_secret) == ("changed meanwhile", "second 🔐")


def test_batch_size_must_be_positive():
    with pytest.raises(CommandError, match="--batch-size must be a positive integer"):
        rotate("--batch-size", "0")
