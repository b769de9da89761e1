"""Trigram indexes for the inbox search (contact name, phone digits, message text), PostgreSQL only.

Django's `icontains` on PostgreSQL is `UPPER(col::text) LIKE UPPER('%term%')` and `contains` is
`col::text LIKE '%term%'`: a B-tree cannot serve a leading wildcard, a pg_trgm GIN index on the
same expression can. SQLite has no equivalent; there the search scans (acceptable at its scale).

pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it without being a
superuser. On a large existing table, build these by hand with CREATE INDEX CONCURRENTLY first;
this migration then finds them and does nothing (IF NOT EXISTS).
"""

from django.db import migrations

# (index name, table, indexed expression): each expression is exactly what the lookup emits.
TRIGRAM_INDEXES = [
    ("crm_message_text_trgm", "crm_message", 'UPPER("text")'),
    ("crm_contact_name_trgm", "crm_contact", 'UPPER("name"::text)'),
    ("crm_contact_wa_id_trgm", "crm_contact", '("wa_id"::text)'),
]


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, expression in TRIGRAM_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
            f"USING gin (({expression}) gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _expression in TRIGRAM_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("crm", "0004_inbox_indexes")]

    operations = [migrations.RunPython(create_trigram_indexes, drop_trigram_indexes)]
