import pytest
from django import forms
from django.db.migrations.writer import MigrationWriter

from chatdesk.common.crypto import DecryptionError
from chatdesk.common.fields import (
    EncryptedFieldLookupError,
    EncryptedTextField,
    encrypted_fields,
)
from tests.common.rawsql import raw_column
from tests.support.models import ScopedSecretHolder, SecretHolder

pytestmark = pytest.mark.django_db

SECRET = "whsec_Ünïcödé-秘密-token"


def test_secret_survives_a_round_trip_through_the_database(keys, key_a):
    keys(key_a)
    holder = SecretHolder.objects.create(secret=SECRET)

    reloaded = SecretHolder.objects.get(pk=holder.pk)

    assert reloaded.secret == SECRET
    stored = raw_column(SecretHolder, "secret", holder.pk)
    assert stored != SECRET
    assert "秘密" not in stored
    assert stored.startswith("gAAAAA")  # a Fernet token


def test_two_rows_with_the_same_secret_store_different_ciphertexts(keys, key_a):
    keys(key_a)
    first = SecretHolder.objects.create(secret=SECRET)
    second = SecretHolder.objects.create(secret=SECRET)

    assert raw_column(SecretHolder, "secret", first.pk) != raw_column(
        SecretHolder, "secret", second.pk
    )


def test_none_is_stored_as_null_and_empty_string_as_empty(keys, key_a):
    keys(key_a)
    holder = SecretHolder.objects.create(secret="", optional_secret=None)

    holder.refresh_from_db()

    assert holder.secret == ""
    assert holder.optional_secret is None
    assert raw_column(SecretHolder, "secret", holder.pk) == ""
    assert raw_column(SecretHolder, "optional_secret", holder.pk) is None


def test_queryset_update_and_bulk_update_encrypt_too(keys, key_a):
    keys(key_a)
    holder = SecretHolder.objects.create(secret="old")

    SecretHolder.objects.filter(pk=holder.pk).update(secret="updated")
    assert raw_column(SecretHolder, "secret", holder.pk) != "updated"
    holder.refresh_from_db()
    assert holder.secret == "updated"

    holder.secret = "bulk"
    SecretHolder.objects.bulk_update([holder], ["secret"])
    assert raw_column(SecretHolder, "secret", holder.pk) != "bulk"
    assert SecretHolder.objects.get(pk=holder.pk).secret == "bulk"


def test_filtering_on_the_secret_raises_a_clear_error(keys, key_a):
    keys(key_a)
    SecretHolder.objects.create(secret=SECRET)

    for lookup in ({"secret": SECRET}, {"secret__in": [SECRET]}, {"secret__startswith": "w"}):
        with pytest.raises(EncryptedFieldLookupError, match="only `isnull` is supported"):
            list(SecretHolder.objects.filter(**lookup))
    with pytest.raises(EncryptedFieldLookupError, match=r"test_support\.SecretHolder\.secret"):
        SecretHolder.objects.exclude(secret=SECRET).count()


def test_isnull_and_equals_none_filters_work(keys, key_a):
    keys(key_a)
    with_secret = SecretHolder.objects.create(secret="a", optional_secret="set")
    without = SecretHolder.objects.create(secret="b", optional_secret=None)

    assert list(SecretHolder.objects.filter(optional_secret__isnull=True)) == [without]
    assert list(SecretHolder.objects.filter(optional_secret=None)) == [without]
    assert list(SecretHolder.objects.filter(optional_secret__isnull=False)) == [with_secret]


def test_reading_with_a_wrong_key_names_model_field_and_pk_but_not_key_or_secret(
    keys, key_a, key_b
):
    keys(key_a)
    holder = SecretHolder.objects.create(secret=SECRET)
    keys(key_b)

    with pytest.raises(DecryptionError) as caught:
        SecretHolder.objects.get(pk=holder.pk)

    message = str(caught.value)
    assert message.startswith(
        f"cannot decrypt test_support.SecretHolder.secret for pk={holder.pk}: "
        "none of ENCRYPTION_KEYS can decrypt it"
    )
    token = raw_column(SecretHolder, "secret", holder.pk)
    for leaked in (key_a, key_b, SECRET, token):
        assert leaked not in message


def test_values_list_with_a_wrong_key_raises_instead_of_returning_ciphertext(keys, key_a, key_b):
    keys(key_a)
    holder = SecretHolder.objects.create(secret=SECRET)
    keys(key_b)

    with pytest.raises(DecryptionError, match=rf"SecretHolder\.secret for pk={holder.pk}:"):
        list(SecretHolder.objects.values_list("secret", flat=True))


def test_model_form_never_renders_the_stored_secret(keys, key_a):
    keys(key_a)
    holder = SecretHolder.objects.create(label="meta", secret=SECRET)
    form_class = forms.modelform_factory(SecretHolder, fields=["label", "secret"])

    html = form_class(instance=holder).as_p()

    assert SECRET not in html
    assert raw_column(SecretHolder, "secret", holder.pk) not in html
    assert 'type="password"' in html


def test_blank_secret_in_an_edit_form_keeps_the_stored_one(keys, key_a):
    keys(key_a)
    holder = SecretHolder.objects.create(label="meta", secret=SECRET)
    form_class = forms.modelform_factory(SecretHolder, fields=["label", "secret"])
    form = form_class({"label": "renamed", "secret": ""}, instance=holder)
    form.fields["secret"].required = False  # edit forms: leave blank to keep

    assert form.is_valid(), form.errors
    form.save()

    holder.refresh_from_db()
    assert (holder.label, holder.secret) == ("renamed", SECRET)


def test_a_new_secret_typed_into_the_form_replaces_the_old_one(keys, key_a):
    keys(key_a)
    holder = SecretHolder.objects.create(label="meta", secret=SECRET)
    form_class = forms.modelform_factory(SecretHolder, fields=["secret"])

    form = form_class({"secret": "new-secret"}, instance=holder)
    assert form.is_valid(), form.errors
    form.save()

    holder.refresh_from_db()
    assert holder.secret == "new-secret"


def test_field_deconstructs_for_migrations():
    field = EncryptedTextField(null=True, blank=True, help_text="Meta webhook handshake")

    _name, path, args, kwargs = field.deconstruct()

    assert path == "chatdesk.common.fields.EncryptedTextField"
    rebuilt = EncryptedTextField(*args, **kwargs)
    assert rebuilt.deconstruct()[1:] == (path, args, kwargs)
    serialized, imports = MigrationWriter.serialize(field)
    assert serialized.startswith("chatdesk.common.fields.EncryptedTextField(")
    assert "import chatdesk.common.fields" in imports


def test_encrypted_fields_lists_every_encrypted_column():
    found = encrypted_fields()

    assert (SecretHolder, "secret") in found
    assert (SecretHolder, "optional_secret") in found
    assert (ScopedSecretHolder, "secret") in found
    assert all(isinstance(model._meta.get_field(name), EncryptedTextField) for model, name in found)
