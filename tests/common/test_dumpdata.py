"""Fixtures made with `dumpdata` never carry a secret in clear, and still restore it."""

import json

import pytest
from django.core.management import call_command
from django.core.serializers.base import DeserializationError

from tests.common.rawsql import raw_column
from tests.support.models import SecretHolder

pytestmark = pytest.mark.django_db

SECRET = "whsec_Ünïcödé-秘密-token"


def _dump(tmp_path):
    path = tmp_path / "secrets.json"
    call_command("dumpdata", SecretHolder._meta.label, output=str(path), verbosity=0)
    return path


def test_dumpdata_writes_the_ciphertext_not_the_secret(keys, key_a, tmp_path):
    keys(key_a)
    holder = SecretHolder.objects.create(secret=SECRET, optional_secret=None)

    text = _dump(tmp_path).read_text()

    assert "秘密" not in text and "whsec_" not in text
    [row] = json.loads(text)
    token = raw_column(SecretHolder, "secret", holder.pk)
    assert row["fields"]["secret"] == f"encrypted:{token}"
    assert row["fields"]["optional_secret"] is None
    # Reads outside dumpdata are unaffected.
    assert SecretHolder.objects.get(pk=holder.pk).secret == SECRET


def test_loaddata_restores_the_secret_from_a_dump(keys, key_a, tmp_path):
    keys(key_a)
    SecretHolder.objects.create(label="kept", secret=SECRET)
    path = _dump(tmp_path)
    SecretHolder.objects.all().delete()

    call_command("loaddata", str(path), verbosity=0)

    restored = SecretHolder.objects.get(label="kept")
    assert restored.secret == SECRET
    # Stored once encrypted, not encrypted twice.
    assert raw_column(SecretHolder, "secret", restored.pk).startswith("gAAAAA")


def test_loaddata_refuses_a_dump_made_with_other_keys(keys, key_a, key_b, tmp_path):
    keys(key_a)
    SecretHolder.objects.create(label="kept", secret=SECRET)
    path = _dump(tmp_path)
    SecretHolder.objects.all().delete()
    keys(key_b)

    with pytest.raises(DeserializationError) as error:
        call_command("loaddata", str(path), verbosity=0)

    assert "cannot load test_support.SecretHolder.secret" in str(error.value)
    assert "ENCRYPTION_KEYS" in str(error.value)
    assert "秘密" not in str(error.value)
    assert SecretHolder.objects.count() == 0
