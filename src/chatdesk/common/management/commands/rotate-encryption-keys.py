"""`chatdesk rotate-encryption-keys`: re-encrypt every stored secret with the current key.

Key rotation, end to end:
1. generate a new key and put it first: ENCRYPTION_KEYS=<new>,<old>; restart web and workers
   (they now encrypt with <new> and still read <old>);
2. run this command (`--dry-run` first to see the counts);
3. remove <old> from ENCRYPTION_KEYS and restart.

Tokens are read raw (cast to text, so the field never decrypts them) and rewritten with
`MultiFernet.rotate()`, one UPDATE per row, in one transaction per model: a value that no key can
decrypt aborts that model with nothing written. Models finished before it stay rotated, which is
safe because every configured key still reads them. The UPDATE only applies when the row still
holds the tokens that were read; a row the application rewrote meanwhile is read again, so its
new secret is never overwritten with the older one. Running the command again finds everything
already current.
"""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.models.functions import Cast
from django.db.models.lookups import Exact

from chatdesk.common.crypto import DecryptionError, rotate_str
from chatdesk.common.fields import encrypted_fields
from chatdesk.tenancy.scoping import WorkspaceScopedModel

# A row rewritten by the application while it is being rotated is read again, this many times.
ROW_ATTEMPTS = 3


def _raw(field_name: str) -> Cast:
    # Cast to a plain TextField: the value comes back as the stored token, not decrypted.
    return Cast(field_name, output_field=models.TextField())


def _manager(model: type[models.Model]) -> models.Manager:
    if issubclass(model, WorkspaceScopedModel):
        # Key rotation is cross-tenant maintenance: the designed escape hatch.
        return model.dangerously_unscoped_objects
    return model._base_manager


def rotate_model_secrets(
    *,
    model: type[models.Model],
    field_names: list[str],
    dry_run: bool,
    batch_size: int,
    using: str = DEFAULT_DB_ALIAS,
) -> dict[str, Counter]:
    """Per field, how many values were "rotated", already "current", or "empty" (NULL or "")."""
    counts = {name: Counter() for name in field_names}
    queryset = _manager(model).using(using).order_by("pk")
    with transaction.atomic(using=using):
        last_pk = None
        while True:
            batch = queryset if last_pk is None else queryset.filter(pk__gt=last_pk)
            rows = list(batch.values_list("pk", *(_raw(name) for name in field_names))[:batch_size])
            if not rows:
                break
            for pk, *tokens in rows:
                _rotate_row(
                    model, pk, dict(zip(field_names, tokens, strict=True)), counts, dry_run, using
                )
            last_pk = rows[-1][0]
    return counts


def _rotate_row(
    model, pk, tokens: dict[str, str | None], counts: dict[str, Counter], dry_run: bool, using: str
):
    manager = _manager(model).using(using)
    for _attempt in range(ROW_ATTEMPTS):
        outcomes, updates, unchanged_if = {}, {}, []
        for name, token in tokens.items():
            if token is None or token == "":
                outcomes[name] = "empty"
                continue
            try:
                rotated = rotate_str(token)
            except DecryptionError as error:
                raise DecryptionError(
                    f"cannot decrypt {model._meta.label}.{name} for pk={pk}: {error}"
                ) from None
            if rotated is None:
                outcomes[name] = "current"
                continue
            outcomes[name] = "rotated"
            updates[name] = models.Value(rotated, output_field=models.TextField())
            unchanged_if.append(Exact(_raw(name), token))
        if not updates or dry_run or manager.filter(*unchanged_if, pk=pk).update(**updates):
            for name, outcome in outcomes.items():
                counts[name][outcome] += 1
            return
        # The application rewrote the row after it was read: read it again rather than
        # overwrite the new secret with the rotated old one.
        row = manager.filter(pk=pk).values_list(*(_raw(name) for name in tokens)).first()
        if row is None:
            return
        tokens = dict(zip(tokens, row, strict=True))
    raise CommandError(
        f"{model._meta.label} pk={pk} kept changing during rotation; run the command again"
    )


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the current (first) key of ENCRYPTION_KEYS, "
        "so older keys can be removed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be re-encrypted; write nothing"
        )
        parser.add_argument(
            "--batch-size", type=int, default=500, help="rows read per query (default 500)"
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, dry_run: bool, batch_size: int, database: str, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be a positive integer")
        by_model: dict[type[models.Model], list[str]] = {}
        for model, name in encrypted_fields():
            by_model.setdefault(model, []).append(name)
        if not by_model:
            self.stdout.write("No encrypted fields are installed; nothing to rotate.")
            return

        verb = "to rotate" if dry_run else "rotated"
        for model, names in by_model.items():
            try:
                counts = rotate_model_secrets(
                    model=model,
                    field_names=names,
                    dry_run=dry_run,
                    batch_size=batch_size,
                    using=database,
                )
            except DecryptionError as error:
                raise CommandError(
                    f"{error}\nNothing was written for {model._meta.label}; fix ENCRYPTION_KEYS "
                    "and run the command again."
                ) from None
            for name, count in counts.items():
                self.stdout.write(
                    f"{model._meta.label}.{name}: {count['rotated']} {verb}, "
                    f"{count['current']} already current, {count['empty']} empty"
                )
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    "Every stored secret now uses the current key; older keys can be removed "
                    "from ENCRYPTION_KEYS."
                )
            )
