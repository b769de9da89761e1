import pytest
from django.core.exceptions import ImproperlyConfigured

from chatdesk.common.crypto import DecryptionError, decrypt_str, encrypt_str, rotate_str

SECRET = "EAAG-meta-access-token-Zürich-🔑"


def test_encrypted_string_decrypts_to_the_original_including_non_ascii(keys, key_a):
    keys(key_a)

    token = encrypt_str(SECRET)

    assert SECRET not in token
    assert decrypt_str(token) == SECRET


def test_the_same_secret_encrypts_to_different_tokens(keys, key_a):
    keys(key_a)

    assert encrypt_str(SECRET) != encrypt_str(SECRET)


def test_changing_encryption_keys_takes_effect_without_a_restart(keys, key_a, key_b):
    keys(key_a)
    token = encrypt_str(SECRET)

    keys(key_b)

    with pytest.raises(DecryptionError):
        decrypt_str(token)


def test_wrong_key_error_explains_the_fix_without_revealing_key_or_secret(keys, key_a, key_b):
    keys(key_a)
    token = encrypt_str(SECRET)
    keys(key_b)

    with pytest.raises(DecryptionError) as caught:
        decrypt_str(token)

    message = str(caught.value)
    assert "none of ENCRYPTION_KEYS can decrypt it" in message
    assert "add the old key back to ENCRYPTION_KEYS after the current one" in message
    for leaked in (key_a, key_b, SECRET, token):
        assert leaked not in message
    # No chained cryptography exception carrying details into a traceback either.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_older_keys_still_decrypt_while_the_first_key_encrypts(keys, key_a, key_b):
    keys(key_a)
    old_token = encrypt_str(SECRET)

    keys(key_b, key_a)

    assert decrypt_str(old_token) == SECRET
    keys(key_b)
    with pytest.raises(DecryptionError):
        decrypt_str(old_token)
    keys(key_b, key_a)
    new_token = encrypt_str(SECRET)
    keys(key_b)
    assert decrypt_str(new_token) == SECRET


def test_rotating_a_token_moves_it_to_the_current_key_and_is_a_no_op_after(keys, key_a, key_b):
    keys(key_a)
    old_token = encrypt_str(SECRET)
    keys(key_b, key_a)

    new_token = rotate_str(old_token)

    assert new_token is not None
    assert rotate_str(new_token) is None
    keys(key_b)
    assert decrypt_str(new_token) == SECRET


def test_corrupt_token_is_a_decryption_error_not_garbage(keys, key_a):
    keys(key_a)

    for corrupt in ("not-a-token", "gAAAAA-truncated", "clé"):
        with pytest.raises(DecryptionError):
            decrypt_str(corrupt)


def test_comma_separated_keys_are_accepted(settings, key_a, key_b):
    settings.ENCRYPTION_KEYS = key_a
    token = encrypt_str(SECRET)

    settings.ENCRYPTION_KEYS = f"{key_b}, {key_a}"

    assert decrypt_str(token) == SECRET


def test_invalid_key_is_a_configuration_error_that_does_not_print_it(keys, key_a):
    bad_key = "this-is-not-a-fernet-key"
    keys(key_a, bad_key)

    with pytest.raises(ImproperlyConfigured) as caught:
        encrypt_str(SECRET)

    assert "key #2 is not a valid Fernet key" in str(caught.value)
    assert bad_key not in str(caught.value)


def test_missing_keys_is_a_configuration_error(keys):
    keys()

    with pytest.raises(ImproperlyConfigured, match="ENCRYPTION_KEYS is empty"):
        encrypt_str(SECRET)
