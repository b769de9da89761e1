"""Read encrypted columns with plain SQL, bypassing the field entirely."""

from __future__ import annotations

from django.db import connection


def raw_column(model, field_name: str, pk) -> str | None:
    """What the database really holds, read with SQL so no field code is involved."""
    quote = connection.ops.quote_name
    column = model._meta.get_field(field_name).column
    pk_column = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(column)} FROM {quote(model._meta.db_table)} "
            f"WHERE {quote(pk_column)} = %s",
            [pk],
        )
        return cursor.fetchone()[0]
