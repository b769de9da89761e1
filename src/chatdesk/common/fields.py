"""`EncryptedTextField`: a text column holding a Fernet token, read and written as plain `str`.

- The Python value is `str | None`. `None` is stored as NULL and `""` as `""` (an unset secret is
  not a secret); anything else is encrypted with the current key of ENCRYPTION_KEYS.
- Every encryption uses a fresh random IV, so equal secrets have different ciphertexts and the
  column cannot be searched: lookups other than `isnull` (and `=None`) raise
  `EncryptedFieldLookupError` instead of silently matching nothing.
- A value that no configured key decrypts raises `DecryptionError` naming model, field and pk.
- `chatdesk rotate-encryption-keys` re-encrypts every such column with the current key; it finds
  them through `encrypted_fields()`.
- `dumpdata` (overridden in this app) writes the stored ciphertext as `encrypted:<token>`, never
  the plaintext; `loaddata` stores such a value as it is, after checking a configured key
  decrypts it. A fixture therefore carries no readable secret and restores only where the keys
  are known.
"""

from __future__ import annotations

import contextlib
import contextvars

from django import forms
from django.apps import apps
from django.core.exceptions import FieldError
from django.db import models, transaction
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, IsNull

from chatdesk.common.crypto import DecryptionError, decrypt_str, encrypt_str

CIPHERTEXT_PREFIX = "encrypted:"

# Set while `dumpdata` runs: reads then yield the stored token, not the plaintext.
_reading_ciphertext = contextvars.ContextVar("reading_ciphertext", default=False)


class EncryptedFieldLookupError(FieldError):
    pass


class Ciphertext(str):
    """A stored Fernet token travelling through a fixture: saved as it is, never re-encrypted."""


@contextlib.contextmanager
def reading_ciphertext():
    token = _reading_ciphertext.set(True)
    try:
        yield
    finally:
        _reading_ciphertext.reset(token)


def _lookup_error(field: EncryptedTextField, lookup_name: str) -> EncryptedFieldLookupError:
    return EncryptedFieldLookupError(
        f"{field.label_for_errors} is encrypted with a random IV, so it cannot be compared in a "
        f"query (lookup '{lookup_name}'); only `isnull` is supported. Load the rows and compare "
        "in Python, or store a keyed hash (HMAC) beside the secret if it must be looked up."
    )


class _NullOnlyExact(Exact):
    """`filter(secret=None)` becomes `isnull` (Django does that after building this lookup)."""

    def __init__(self, lhs, rhs):
        if rhs is not None:
            raise _lookup_error(lhs.output_field, self.lookup_name)
        super().__init__(lhs, rhs)


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest with ENCRYPTION_KEYS (Fernet)"

    @property
    def label_for_errors(self) -> str:
        model = getattr(self, "model", None)
        return f"{model._meta.label}.{self.name}" if model is not None else str(self.name)

    # --- database <-> Python -------------------------------------------------------------------

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        if _reading_ciphertext.get():
            return CIPHERTEXT_PREFIX + value
        try:
            return decrypt_str(value)
        except DecryptionError as error:
            pk = self._pk_holding(value, connection)
            where = f" for pk={pk}" if pk is not None else ""
            raise DecryptionError(
                f"cannot decrypt {self.label_for_errors}{where}: {error}"
            ) from None

    def _pk_holding(self, token: str, connection):
        """The primary key of the row holding `token`, for the error message only.

        A converter never sees its row, but Fernet tokens are unique (random IV), so the token
        itself finds the row. Best effort: the decryption error matters more than this lookup.
        """
        if getattr(self, "model", None) is None:
            return None
        try:
            with transaction.atomic(using=connection.alias):
                pks = list(
                    self.model._base_manager.using(connection.alias)
                    .filter(Exact(Cast(self.name, output_field=models.TextField()), token))
                    .values_list("pk", flat=True)[:2]
                )
        except Exception:
            return None
        return pks[0] if len(pks) == 1 else None

    def to_python(self, value):
        if value is None or isinstance(value, Ciphertext):
            return value
        if isinstance(value, str):
            if value.startswith(CIPHERTEXT_PREFIX):
                return self._ciphertext(value.removeprefix(CIPHERTEXT_PREFIX))
            return value
        return str(value)

    def _ciphertext(self, token: str) -> Ciphertext:
        """A token from a fixture; refused unless a configured key decrypts it, so a restore
        with the wrong ENCRYPTION_KEYS fails at load time instead of on first use."""
        try:
            decrypt_str(token)
        except (DecryptionError, TypeError) as error:
            raise DecryptionError(
                f"cannot load {self.label_for_errors} from the fixture: {error}"
            ) from None
        return Ciphertext(token)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        if isinstance(value, Ciphertext):
            return str(value)
        return encrypt_str(value)

    # --- queries -------------------------------------------------------------------------------

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return IsNull
        if lookup_name == "exact":
            return _NullOnlyExact
        raise _lookup_error(self, lookup_name)

    def get_transform(self, lookup_name):
        raise _lookup_error(self, lookup_name)

    # --- forms ---------------------------------------------------------------------------------

    def formfield(self, **kwargs):
        # A password input never renders the stored secret back into the page. It wins over a
        # caller's widget (the admin swaps every TextField for a textarea, which would show it).
        kwargs["widget"] = forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password"}
        )
        return super().formfield(**kwargs)

    def save_form_data(self, instance, data):
        # The form never showed the current secret, so an empty submission on an existing
        # object means "unchanged", not "erase it". Clearing a secret is an explicit service.
        if data in (None, "") and getattr(instance, self.attname, None):
            return
        super().save_form_data(instance, data)


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) stored with EncryptedTextField, each column listed once."""
    found = []
    for model in apps.get_models():
        # local_concrete_fields: a field inherited through multi-table inheritance lives in
        # (and is listed for) the parent's table only; proxies have no columns of their own.
        for field in model._meta.local_concrete_fields:
            if isinstance(field, EncryptedTextField):
                found.append((model, field.name))
    return sorted(found, key=lambda item: (item[0]._meta.label, item[1]))
